// Whether a role's trust policy lets one Kubernetes service account take the role through IRSA, judged the way
// IAM evaluates it, as a pure function over the parsed policy; and the trust policy to give it when it does not.
// The shape AWS documents (Amazon EKS User Guide, "Assign IAM roles to Kubernetes service accounts",
// https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html):
//   { "Effect": "Allow",
//     "Principal": { "Federated": "arn:aws:iam::<account>:oidc-provider/<issuer without https://>" },
//     "Action": "sts:AssumeRoleWithWebIdentity",
//     "Condition": { "StringEquals": { "<issuer without https://>:aud": "sts.amazonaws.com",
//                                      "<issuer without https://>:sub": "system:serviceaccount:<namespace>:<name>" } } }
// StringLike in place of StringEquals takes IAM's wildcards (`*` any run of characters, `?` one character).
// Condition operators in a statement are ANDed, the values of one key ORed; condition key names match without
// regard to case, values with it, action names without (IAM's rules).

/** The audience EKS's projected service-account tokens carry for STS. */
export const STS_AUDIENCE = "sts.amazonaws.com";
const WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity";

export interface IrsaTrustTarget {
  /** `arn:<partition>:iam::<account>:oidc-provider/<url>`. */
  readonly providerArn: string;
  /** The cluster's issuer without `https://`: the prefix of the condition keys. */
  readonly providerUrl: string;
  /** `system:serviceaccount:<namespace>:<name>`. */
  readonly subject: string;
}

/** Why the policy does not let the service account take the role; undefined when it does. */
export function irsaTrustProblem(policy: unknown, target: IrsaTrustTarget): string | undefined {
  const statements = listOf((policy as { Statement?: unknown } | null)?.Statement).filter(
    (statement): statement is Statement => typeof statement === "object" && statement !== null,
  );
  const federated = statements.filter(
    (statement) =>
      statement.Effect === "Allow" &&
      listOf(statement.Action).some(
        (action) => typeof action === "string" && wildcardMatch(action, WEB_IDENTITY, true),
      ) &&
      listOf(statement.Principal?.Federated).includes(target.providerArn),
  );
  if (federated.length === 0)
    return `its trust policy does not allow ${WEB_IDENTITY} from ${target.providerArn}`;
  const verdicts = federated.map((statement) => verdictOf(statement, target));
  if (verdicts.some((verdict) => verdict.kind === "allows")) return undefined;
  const sub = `${target.providerUrl}:sub`;
  const named = (kind: "wrong-sub" | "wrong-aud") =>
    verdicts.find((verdict): verdict is Extract<Verdict, { values: unknown }> => verdict.kind === kind);
  const aud = named("wrong-aud");
  if (aud) {
    return `its trust policy's ${target.providerUrl}:aud condition names ${aud.values.join(", ")}, not ${STS_AUDIENCE}`;
  }
  const wrongSub = named("wrong-sub");
  if (wrongSub) {
    return `its trust policy's ${sub} condition names ${wrongSub.values.join(", ")}, not ${target.subject}`;
  }
  return `its trust policy allows ${target.providerArn} with no ${sub} condition (StringEquals or StringLike): any service account of the cluster could take the role; name ${target.subject}`;
}

/** The trust policy of the documented shape for the target, as JSON on one line (for a shell command). */
export function irsaTrustPolicy(target: IrsaTrustTarget): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Federated: target.providerArn },
        Action: WEB_IDENTITY,
        Condition: {
          StringEquals: {
            [`${target.providerUrl}:aud`]: STS_AUDIENCE,
            [`${target.providerUrl}:sub`]: target.subject,
          },
        },
      },
    ],
  });
}

interface Statement {
  readonly Effect?: unknown;
  readonly Action?: unknown;
  readonly Principal?: { readonly Federated?: unknown };
  readonly Condition?: Readonly<Record<string, unknown>>;
}

type Verdict =
  | { readonly kind: "allows" }
  | { readonly kind: "no-sub" }
  | { readonly kind: "wrong-sub" | "wrong-aud"; readonly values: readonly string[] };

/** What one Allow statement for the provider says of the subject and the audience. */
function verdictOf(statement: Statement, target: IrsaTrustTarget): Verdict {
  const subs = constraints(statement, `${target.providerUrl}:sub`);
  if (subs.length === 0) return { kind: "no-sub" };
  const unmet = subs.find((constraint) => !satisfied(constraint, target.subject));
  if (unmet) return { kind: "wrong-sub", values: unmet.values };
  const wrongAud = constraints(statement, `${target.providerUrl}:aud`).find(
    (constraint) => !satisfied(constraint, STS_AUDIENCE),
  );
  return wrongAud ? { kind: "wrong-aud", values: wrongAud.values } : { kind: "allows" };
}

interface Constraint {
  readonly like: boolean;
  readonly values: readonly string[];
}

/** The StringEquals and StringLike conditions on a key in a statement, one per operator that names it. */
function constraints(statement: Statement, key: string): Constraint[] {
  const found: Constraint[] = [];
  for (const [operator, like] of [
    ["StringEquals", false],
    ["StringLike", true],
  ] as const) {
    const block = statement.Condition?.[operator];
    if (typeof block !== "object" || block === null) continue;
    for (const [name, value] of Object.entries(block as Record<string, unknown>)) {
      if (name.toLowerCase() !== key.toLowerCase()) continue;
      found.push({ like, values: listOf(value).filter((v): v is string => typeof v === "string") });
    }
  }
  return found;
}

function satisfied(constraint: Constraint, value: string): boolean {
  return constraint.values.some((wanted) =>
    constraint.like ? wildcardMatch(wanted, value, false) : wanted === value,
  );
}

/** IAM's wildcard match: `*` any run of characters, `?` one character. */
function wildcardMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  const source = pattern
    .split("")
    .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`, ignoreCase ? "is" : "s").test(value);
}

/** A policy element that may be one value or a list of them, as a list. */
function listOf(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}
