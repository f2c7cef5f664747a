/**
 * `MakeOptions` for a Schema constructor (an error class, a brand) given
 * values Baton already holds checked (route names, recorded attempts, a
 * generated UUID, ids checked by hand): their checks are not run again on
 * the hot path. Only for values that cannot fail them.
 */
export const trusted = { disableChecks: true } as const
