// The /connections document: the data plane's snapshot with each subflow named by its path.
// `braid status` reads it; the shape is the contract between the two.
import type { ConnectionSnapshot, DataplaneSnapshot, SubflowInfo } from '../dataplane/types';
import { pathName, type PathForAddress } from '../observability/paths';

export interface AnnotatedSubflow extends SubflowInfo {
  path: string; // configured path of the local address, "unknown" if none
}

export interface AnnotatedConnection extends Omit<ConnectionSnapshot, 'subflows'> {
  subflows: AnnotatedSubflow[];
}

export interface ConnectionsDocument {
  active: number;
  accepted: number;
  refused: number;
  connections: AnnotatedConnection[];
}

export function connectionsDocument(
  snapshot: DataplaneSnapshot,
  pathForAddress: PathForAddress,
): ConnectionsDocument {
  return {
    active: snapshot.active,
    accepted: snapshot.accepted,
    refused: snapshot.refused,
    connections: snapshot.connections.map((conn) => ({
      ...conn,
      subflows: conn.subflows.map((subflow) => ({ ...subflow, path: pathName(pathForAddress, subflow.local) })),
    })),
  };
}
