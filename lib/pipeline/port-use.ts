// What a stage calls on each port, declared method by method — the one place its rights come from. A stage
// declares its use (`portUse({ store: ["get", "record"], gateway: ["promote"] })`) and types its deps as
// `DepsUsing<typeof ITS_USE>`: exactly those methods of those ports, so calling a method it did not declare
// does not compile. The AWS grants of each function (lib/infra/function-access.ts) and its Kubernetes
// groups are derived from the same declaration, so what compiles is what is allowed.
//
// The bucket is declared with the areas of it each method reaches (`objects: { get: ["manifests"] }`): the
// keys a stage reads or writes are named by the bucket layout, and IAM scopes each grant to those prefixes.

import type { StageDeps } from "./deps";

/** The ports a stage reaches the world through; the stack config is data, not a port. */
export type PortName = Exclude<keyof StageDeps, "config">;

/** What a stage may use of a port: its methods (and, for the bucket, its names `bucket` and `location`). */
export type PortMember<P extends PortName> = keyof StageDeps[P] & string;

/**
 * The areas of the bucket modelship's layout defines: `manifests` (models/<name>/<version>/modelship.*),
 * `models` (everything under models/: weights, configs, tokenizers), `evals`, `prompts`, `reports`.
 */
export type BucketArea = "manifests" | "models" | "evals" | "prompts" | "reports";

type OtherPort = Exclude<PortName, "objects">;

/** Which members of which ports a stage uses; for the bucket, also where. */
export type PortUse = { readonly [P in OtherPort]?: readonly PortMember<P>[] } & {
  readonly objects?: { readonly [M in PortMember<"objects">]?: readonly BucketArea[] };
};

/** The members of port `P` that `U` uses (distributes over a union of uses). */
export type UsedMembers<U, P extends PortName> = P extends "objects"
  ? U extends { readonly objects: infer O }
    ? keyof O & PortMember<"objects">
    : never
  : U extends { readonly [K in P]: readonly (infer M)[] }
    ? M & PortMember<P>
    : never;

/** The deps of a stage that uses `U`: exactly the members it declared of the ports it declared. */
export type DepsUsing<U extends PortUse> = {
  readonly [P in PortName as [UsedMembers<U, P>] extends [never] ? never : P]: Pick<
    StageDeps[P],
    UsedMembers<U, P>
  >;
};

/** The use of several stages together (a function that runs more than one): every member any of them uses. */
export type CombinedUse<Us extends readonly PortUse[]> = {
  readonly [P in OtherPort as [UsedMembers<Us[number], P>] extends [never] ? never : P]: readonly UsedMembers<
    Us[number],
    P
  >[];
} & ([UsedMembers<Us[number], "objects">] extends [never]
  ? unknown
  : { readonly objects: { readonly [M in UsedMembers<Us[number], "objects">]: readonly BucketArea[] } });

/** Declares a stage's port use, keeping the literal method names `DepsUsing` picks. */
export function portUse<const U extends PortUse>(use: U): U {
  return use;
}

/** The use of stages run together, member by member (the bucket's areas merged per method). */
export function combinedUse<const Us extends readonly PortUse[]>(...uses: Us): CombinedUse<Us> {
  const combined: Record<string, unknown> = {};
  for (const use of uses) {
    for (const [port, members] of Object.entries(use) as [string, unknown][]) {
      if (port === "objects") {
        const areas = (combined.objects ?? {}) as Record<string, BucketArea[]>;
        for (const [method, more] of Object.entries(members as Record<string, readonly BucketArea[]>)) {
          areas[method] = [...new Set([...(areas[method] ?? []), ...more])];
        }
        combined.objects = areas;
      } else {
        combined[port] = [...new Set([...((combined[port] ?? []) as string[]), ...(members as string[])])];
      }
    }
  }
  return combined as CombinedUse<Us>;
}

/** Each port the use names, with the members it uses (for the bucket, the methods), for grants and tests. */
export function usedMembers(
  use: PortUse,
): { readonly port: PortName; readonly members: readonly string[] }[] {
  return (Object.entries(use) as [PortName, unknown][]).map(([port, members]) => ({
    port,
    members: Array.isArray(members) ? (members as string[]) : Object.keys(members as object),
  }));
}
