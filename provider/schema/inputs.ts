/**
 * Types derived from the zod schemas, so each resource's fields are written once (in provider/schema/<resource>.ts,
 * with their docs as JSDoc on the shape's properties). The mapped types below are homomorphic, so TypeScript carries
 * each property's JSDoc through them: hovering `SftpGroupArgs.gid` shows the doc written next to `gid` in the shape.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";

type Primitive = string | number | boolean | bigint | symbol | null | undefined;

/** One value as a program may give it: itself, a promise or an Output, at every level (elements, entries, fields). */
export type DeepInput<T> = T extends Primitive
  ? T
  : T extends ReadonlyArray<infer E>
    ? pulumi.Input<DeepInput<E>>[]
    : T extends object
      ? PulumiInputs<T>
      : T;

/** Every field of `T` wrapped in `pulumi.Input`, nested objects and arrays too (as Pulumi's generated SDKs do). */
export type PulumiInputs<T> = { readonly [K in keyof T]: pulumi.Input<DeepInput<T[K]>> };

/** Every field of `T` as a resource output; a field that may be absent stays `Output<T | undefined>`. */
export type PulumiOutputs<T> = { readonly [K in keyof T]-?: pulumi.Output<{} extends Pick<T, K> ? T[K] | undefined : T[K]> };

/** What a program writes for a zod shape: the input side (defaults optional, transforms before they run). */
export type ShapeInput<S extends z.ZodRawShape> = z.input<z.ZodObject<S>>;
/** What the adapters and planners see after parsing: defaults filled in, transforms applied. */
export type ShapeOutput<S extends z.ZodRawShape> = z.output<z.ZodObject<S>>;

/** `T` with the keys `K` optional (fields a resource class fills in, e.g. `name` from the resource name). */
export type OptionalKeys<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;

/** Deeply read-only plain values (a component computes with them, so they are not Inputs). */
export type DeepReadonly<T> = T extends Primitive
  ? T
  : T extends ReadonlyArray<infer E>
    ? ReadonlyArray<DeepReadonly<E>>
    : T extends object
      ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
      : T;
