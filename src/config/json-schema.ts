// The schema as published: draft-07 JSON Schema of a config file, for editors
// (yaml-language-server), the Helm chart's values.schema.json and docs/config.md.
import { inputSchema } from './schema';

export function configJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'braid configuration',
    ...inputSchema(),
  };
}
