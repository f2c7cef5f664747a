/**
 * JSON Schemas the structured-output rewrite tests build their cases from.
 */

/** A closed object whose one property, `field` (required), has the schema `field`. */
export const withField = (field: unknown) => ({
  type: "object",
  properties: { field },
  required: ["field"],
  additionalProperties: false
})
