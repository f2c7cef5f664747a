import type { Schema } from "effect"
import { withoutStack } from "./stackless.ts"

/**
 * `MakeOptions` for a Schema constructor (an error class, a brand) given
 * values Baton already holds checked (route names, recorded attempts, a
 * generated UUID, ids checked by hand): their checks are not run again on
 * the hot path. Only for values that cannot fail them.
 */
export const trusted = { disableChecks: true } as const

/** A class, as the prototype chain of an error class holds it. */
type Constructor = abstract new(...args: Array<never>) => unknown

/** The base a Schema class (`Schema.TaggedError`, ...) builds its instances with, below its own constructor. */
const baseOf = (Class: Constructor): Constructor => {
  let current = Class
  // the Schema class is the one of the chain holding its `identifier`
  while (!Object.hasOwn(current, "identifier")) current = Object.getPrototypeOf(current) as Constructor
  return Object.getPrototypeOf(current) as Constructor
}

const bases = new WeakMap<Constructor, Constructor>()

/**
 * An instance of the stackless Schema error class `Class` holding `fields`
 * (its `_tag` first, the rest in the order of its schema, as its
 * constructor's parse copies them), built by the class's base without that
 * parse, which `trusted` still runs on types and structure: most of the cost
 * of an error (an open-circuit skip builds two). Only for fields of the right
 * types and order (Baton's own values: route names, recorded attempts, a
 * `Duration`); test/trusted.test.ts checks the error is the constructor's.
 */
export const construct = <
  C extends (abstract new(...args: Array<never>) => Error) & { readonly fields: Schema.Struct.Fields }
>(Class: C, fields: Schema.Struct.Type<C["fields"]>): InstanceType<C> => {
  let base = bases.get(Class)
  if (base === undefined) bases.set(Class, base = baseOf(Class))
  return withoutStack(() => Reflect.construct(base, [fields], Class) as InstanceType<C>)
}
