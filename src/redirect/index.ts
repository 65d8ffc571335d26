// The nftables table braid owns: install, remove, inspect.
export { RedirectTable, type RedirectStatus, type RedirectTableOptions } from './table';
export { parseListing, type RedirectRule } from './listing';
