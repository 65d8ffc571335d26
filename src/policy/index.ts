// Policies: which connection goes where (decide) and the nftables table that does it (compileRuleset).
export { decide, matches, type Connection, type Decision } from './decide';
export {
  BYPASS_MARK,
  CHAINS,
  OWN_RULES,
  REJECT_MARK,
  TABLE,
  compileRuleset,
  policyOfComment,
  ruleComment,
  type ListenerPorts,
  type RulesetInput,
} from './compile';
