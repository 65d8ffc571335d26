// Config objects are shared by every part of braid; freezing them makes a stray write
// throw (strict mode) instead of silently changing behaviour elsewhere.
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
