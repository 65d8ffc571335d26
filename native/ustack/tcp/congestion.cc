// The factory: the one place that knows every algorithm.
#include "ustack/tcp/congestion.h"

#include "ustack/tcp/cubic.h"
#include "ustack/tcp/newreno.h"

namespace braid::ustack {

std::unique_ptr<CongestionControl> MakeCongestionControl(CongestionAlgorithm algorithm, std::uint32_t mss) {
  switch (algorithm) {
    case CongestionAlgorithm::kNewReno:
      return std::make_unique<NewReno>(mss);
    case CongestionAlgorithm::kCubic:
      break;
  }
  return std::make_unique<Cubic>(mss);
}

const char* CongestionAlgorithmName(CongestionAlgorithm algorithm) {
  return algorithm == CongestionAlgorithm::kNewReno ? "newreno" : "cubic";
}

}  // namespace braid::ustack
