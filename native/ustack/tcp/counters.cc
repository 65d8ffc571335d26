#include "ustack/tcp/counters.h"

namespace braid::ustack {
namespace {

constexpr const char* kNames[] = {
#define BRAID_TCP_COUNTER_NAME(name, help) #name,
    BRAID_TCP_COUNTERS(BRAID_TCP_COUNTER_NAME)
#undef BRAID_TCP_COUNTER_NAME
};
constexpr const char* kHelp[] = {
#define BRAID_TCP_COUNTER_HELP(name, help) help,
    BRAID_TCP_COUNTERS(BRAID_TCP_COUNTER_HELP)
#undef BRAID_TCP_COUNTER_HELP
};

}  // namespace

const char* TcpCounterName(TcpCounter c) { return kNames[static_cast<std::size_t>(c)]; }
const char* TcpCounterHelp(TcpCounter c) { return kHelp[static_cast<std::size_t>(c)]; }

}  // namespace braid::ustack
