// `nft -j list table` and `nft -a list table` of braid's table -> one row per rule with its
// policy, hook, family and counters. Pure, so it is tested on captured nft output.
import { policyOfComment } from '../policy';

export interface RedirectRule {
  /** The policy the rule belongs to ("@self", "@local", "@reject", "@inbound" for braid's own); "" if not braid's. */
  policy: string;
  chain: string;
  /** The netfilter hook of the rule's chain: output, prerouting. */
  hook: string;
  family: 'ipv4' | 'ipv6' | 'any';
  packets: number;
  bytes: number;
  /** The rule as nft prints it, without counter, comment and handle: its match and action. */
  rule: string;
  handle: number;
}

type Json = Record<string, unknown>;

/** Rows in table order. `json` is `nft -j list table ...`; `text` is `nft -a list table ...`. */
export function parseListing(json: string, text: string): RedirectRule[] {
  const items = ((JSON.parse(json) as Json)['nftables'] ?? []) as Json[];
  const hooks = new Map<string, string>();
  for (const item of items) {
    const chain = item['chain'] as Json | undefined;
    if (chain !== undefined) hooks.set(String(chain['name']), typeof chain['hook'] === 'string' ? chain['hook'] : '');
  }
  const texts = ruleTexts(text);
  const rules: RedirectRule[] = [];
  for (const item of items) {
    const rule = item['rule'] as Json | undefined;
    if (rule === undefined) continue;
    const expr = (rule['expr'] ?? []) as Json[];
    const counter = expr.map((e) => e['counter'] as Json | undefined).find((c) => c !== undefined);
    const chain = String(rule['chain']);
    const handle = Number(rule['handle']);
    rules.push({
      policy: policyOfComment(typeof rule['comment'] === 'string' ? rule['comment'] : undefined) ?? '',
      chain,
      hook: hooks.get(chain) ?? '',
      family: familyOf(expr),
      packets: Number(counter?.['packets'] ?? 0),
      bytes: Number(counter?.['bytes'] ?? 0),
      rule: texts.get(handle) ?? '',
      handle,
    });
  }
  return rules;
}

/** The family a rule is limited to: by `meta nfproto` or by an ip/ip6 header match. */
function familyOf(expr: readonly Json[]): RedirectRule['family'] {
  for (const e of expr) {
    const match = e['match'] as Json | undefined;
    const left = match?.['left'] as Json | undefined;
    const meta = left?.['meta'] as Json | undefined;
    if (meta?.['key'] === 'nfproto' && (match?.['right'] === 'ipv4' || match?.['right'] === 'ipv6')) return match['right'];
    const payload = left?.['payload'] as Json | undefined;
    if (payload?.['protocol'] === 'ip') return 'ipv4';
    if (payload?.['protocol'] === 'ip6') return 'ipv6';
  }
  return 'any';
}

/** handle -> rule text, from lines like `ip daddr 1.2.3.4 counter packets 1 bytes 60 return comment "braid:x" # handle 7`. */
function ruleTexts(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*(.*?)\s*# handle (\d+)\s*$/.exec(line);
    if (m === null || /^(table|chain|set|map)\s/.test(m[1]!)) continue;
    const rule = m[1]!
      .replace(/\s*comment "(?:[^"\\]|\\.)*"\s*$/, '')
      .replace(/\bcounter packets \d+ bytes \d+\s*/, '')
      .trim();
    out.set(Number(m[2]), rule);
  }
  return out;
}
