// Policies: which connection goes where (decide) and the nftables table that does it (compileRuleset).
export { decide, matches, type Connection, type Decision } from './decide';
export {
  BYPASS_MARK,
  CHAINS,
  OWN_RULES,
  REJECT_MARK,
  ROUTING_TABLE,
  TABLE,
  TPROXY_MARK,
  compileRuleset,
  policyOfComment,
  ruleComment,
  type ListenerPorts,
  type RoutedInput,
  type RulesetInput,
} from './compile';
