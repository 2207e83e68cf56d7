// Each function's grants tied to the port methods its stage declares, both ways: every action the
// declaration needs (through the adapters' action table) is granted, and nothing else is — beyond what every
// function has (its own logs, X-Ray) and what follows from a grant (the KMS keys of the bucket and the
// table). So a stage that starts calling a new method without a grant fails here, not in a deployment.

import { beforeAll, describe, expect, it } from "vitest";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { readFileSync } from "node:fs";
import { stringify } from "yaml";
import { KUBERNETES_ACCESS, PORT_ACTIONS } from "../../lib/aws/port-actions";
import type { ModelshipFunction } from "../../lib/core/state-machine/pipeline-functions";
import {
  clusterRoleObjects,
  KUBERNETES_GROUPS,
  PROMETHEUS_READERS_GROUP,
} from "../../lib/infra/cluster-roles";
import type { ModelPipeline } from "../../lib/infra/model-pipeline";
import { FUNCTION_PORT_USE } from "../../lib/pipeline/function-port-use";
import { cdkJsonContext, flatArn, roleStatements, synthSampleStack } from "./synth";

let pipeline: ModelPipeline;
let template: ReturnType<typeof synthSampleStack>["template"];

beforeAll(() => {
  const synth = synthSampleStack();
  pipeline = synth.stack.pipeline;
  template = synth.template;
});

const FUNCTIONS = Object.keys(FUNCTION_PORT_USE) as ModelshipFunction[];

/** Every function's own: its log group, X-Ray tracing, and for the event-driven ones their dead-letter queue. */
const EVERY_FUNCTION =
  /^(logs:CreateLogStream|logs:PutLogEvents|xray:PutTraceSegments|xray:PutTelemetryRecords|sqs:SendMessage)$/;

/** The methods a function's row names, port by port. */
function declared(name: ModelshipFunction): [string, string[]][] {
  return Object.entries(FUNCTION_PORT_USE[name]).map(([port, members]) => [
    port,
    Array.isArray(members) ? (members as string[]) : Object.keys(members as object),
  ]);
}

/**
 * The actions the declaration needs, read off the action table — but an AMP query's, which only a stack whose
 * Prometheus is an AMP workspace is granted (the sample stack's is not).
 */
function declaredActions(name: ModelshipFunction): string[] {
  const table = PORT_ACTIONS as Record<string, Record<string, readonly string[]>>;
  const amp = pipeline.config.canaryMetrics.prometheus?.endpoint.kind === "amp";
  return (
    [...new Set(declared(name).flatMap(([port, members]) => members.flatMap((m) => table[port]?.[m] ?? [])))]
      .filter((action) => amp || !action.startsWith("aps:"))
      // Hooks' rights only on a stack with hook functions or a signing secret (test/infra/hooks.test.ts); the sample has neither.
      .filter((action) => !/^(lambda|secretsmanager):/.test(action))
      .sort()
  );
}

function grantedActions(name: ModelshipFunction): string[] {
  return [...new Set(roleStatements(template, pipeline.functions[name]).flatMap((s) => s.actions))].sort();
}

describe("ModelPipeline: each function's grants are what its stage declares", () => {
  it.each(FUNCTIONS)("grants %s every action its port methods need, and no other", (name) => {
    const granted = grantedActions(name).filter((a) => !EVERY_FUNCTION.test(a) && !a.startsWith("kms:"));
    expect(granted).toEqual(declaredActions(name));
  });

  it.each(FUNCTIONS)("lets %s use a KMS key only for the bucket or the table it reaches", (name) => {
    const actions = declaredActions(name);
    const kms = grantedActions(name).filter((a) => a.startsWith("kms:"));
    const readsOrWrites = actions.some(
      (a) => /^s3:(GetObject|GetObjectVersion|PutObject)$/.test(a) || a.startsWith("dynamodb:"),
    );
    expect(kms.length > 0).toBe(readsOrWrites);
  });

  it("gives Cleanup the registry rights to reject a version that failed at or after RegisterGateway", () => {
    expect(grantedActions("Cleanup")).toEqual(expect.arrayContaining(["sagemaker:UpdateModelPackage"]));
  });

  it("gives the gate functions no table, event or report rights they do not use", () => {
    // They read the rollout record (a stop requested while they run), and write none of it.
    const tableWrites = /^dynamodb:(PutItem|UpdateItem|DeleteItem)$/;
    expect(
      grantedActions("CheckCandidate").filter((a) => /^(events|s3):/.test(a) || tableWrites.test(a)),
    ).toEqual([]);
    expect(grantedActions("SmokeTest").filter((a) => a.startsWith("s3:") || tableWrites.test(a))).toEqual([]);
    // DeployCandidate's function also answers CheckCapacity, which records when a wait for capacity starts
    // and ends (conditioned on the lock): RolloutStore.record's writes (port-actions.ts), no delete.
    expect(grantedActions("DeployCandidate").filter((a) => tableWrites.test(a))).toEqual([
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
    ]);
    for (const name of ["MergeStress", "MergeEval"] as const) {
      expect(
        grantedActions(name).filter((a) => /^dynamodb:(PutItem|UpdateItem)$/.test(a)),
        name,
      ).toEqual([]);
    }
  });
});

describe("ModelPipeline: each function's rights in the cluster are what its stage declares", () => {
  /** The access entry the declaration calls for, read off the Kubernetes access table. */
  function declaredAccess(name: ModelshipFunction): { edit: boolean; groups: string[] } {
    const table = KUBERNETES_ACCESS as Record<string, Record<string, string>>;
    const accesses = new Set(
      declared(name).flatMap(([port, members]) => members.flatMap((m) => table[port]?.[m] ?? [])),
    );
    const edit = accesses.has("editCandidates");
    const groups = [
      ...(!edit && accesses.has("readCandidates") ? [KUBERNETES_GROUPS.readCandidates] : []),
      ...(!accesses.has("editRoutes") && accesses.has("readRoutes") ? [KUBERNETES_GROUPS.readRoutes] : []),
      ...(accesses.has("editRoutes") ? [KUBERNETES_GROUPS.editRoutes] : []),
      ...(accesses.has("scrapePods") ? [KUBERNETES_GROUPS.scrapePods] : []),
      ...(accesses.has("scaleCandidates") ? [KUBERNETES_GROUPS.scaleCandidates] : []),
      ...(accesses.has("readCapacity") ? [KUBERNETES_GROUPS.readCapacity] : []),
    ];
    return { edit, groups };
  }

  it.each(FUNCTIONS)(
    "gives %s the access entry its serving and gateway methods need, and no other",
    (name) => {
      const { edit, groups } = declaredAccess(name);
      const entry = pipeline.clusterAccessEntries[name];
      if (!edit && groups.length === 0) return expect(entry).toBeUndefined();
      const policies = (entry?.accessPolicies ?? []) as { policyArn: string }[];
      expect(policies.map((p) => p.policyArn).join()).toContain(edit ? "AmazonEKSEditPolicy" : "");
      expect(policies.length).toBe(edit ? 1 : 0);
      expect([...(entry?.kubernetesGroups ?? [])].sort()).toEqual(groups.sort());
    },
  );
});

describe("ModelPipeline with the platform team's Prometheus as real traffic's source", () => {
  const QUERIES = { requests: 'sum(rate(vllm:request_success_total{model_name="{{model}}"}[1m]))' };
  const withPrometheus = (endpoint: Record<string, unknown>) => {
    const context = cdkJsonContext();
    const config = (context["modelship"] ?? {}) as Record<string, unknown>;
    return synthSampleStack({
      modelship: { ...config, canaryMetrics: { prometheus: { endpoint, queries: QUERIES } } },
    });
  };

  it("lets the Prober, and no other function, query the AMP workspace it names, and nothing else of AMP", () => {
    const { stack, template } = withPrometheus({
      kind: "amp",
      workspaceId: "ws-8f0a6e2b-1c3d",
      region: "eu-west-1",
    });
    for (const name of FUNCTIONS) {
      const aps = roleStatements(template, stack.pipeline.functions[name]).filter((s) =>
        s.actions.some((a) => a.startsWith("aps:")),
      );
      if (name !== "Prober") {
        expect(aps, name).toEqual([]);
        continue;
      }
      expect(aps.map((s) => [s.actions, s.resources.map(flatArn)])).toEqual([
        [
          ["aps:QueryMetrics"],
          ["arn:<AWS::Partition>:aps:eu-west-1:<AWS::AccountId>:workspace/ws-8f0a6e2b-1c3d"],
        ],
      ]);
    }
  });

  it("gives the Prober a group bound to a Role in an in-cluster Prometheus' namespace that may only get its service proxy", () => {
    const { stack } = withPrometheus({
      kind: "service",
      namespace: "monitoring",
      service: "prometheus",
      port: 9090,
    });
    expect(stack.pipeline.clusterAccessEntries.Prober?.kubernetesGroups).toContain(PROMETHEUS_READERS_GROUP);
    expect(stack.pipeline.clusterAccessEntries.Promote?.kubernetesGroups ?? []).not.toContain(
      PROMETHEUS_READERS_GROUP,
    );
    const role = clusterRoleObjects("models", stack.pipeline.config).find(
      (o) => o.kind === "Role" && (o.metadata as { name: string }).name === PROMETHEUS_READERS_GROUP,
    );
    expect(role).toEqual({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: PROMETHEUS_READERS_GROUP, namespace: "monitoring" },
      rules: [{ apiGroups: [""], resources: ["services/proxy"], verbs: ["get"] }],
    });
    expect(() => new Role(role as never).validate()).not.toThrow();
  });
});

describe("The Roles the platform team applies for the groups", () => {
  it("are valid Kubernetes Roles and RoleBindings, and ClusterRoles and their bindings", () => {
    const models = { Role, RoleBinding, ClusterRole, ClusterRoleBinding };
    for (const object of clusterRoleObjects("models")) {
      const Model = models[object.kind as keyof typeof models];
      expect(Model, String(object.kind)).toBeDefined();
      expect(() => new Model(object as never).validate()).not.toThrow();
    }
  });

  it("grant the capacity check its cluster-wide reads in a ClusterRole, without a namespace", () => {
    const role = clusterRoleObjects("models").find((object) => object.kind === "ClusterRole");
    expect(role).toMatchObject({ metadata: { name: "modelship-capacity-readers" } });
    expect(role?.metadata).not.toHaveProperty("namespace");
  });

  it("are the YAML docs/eks.md shows, for the namespace models", () => {
    const docs = readFileSync(new URL("../../docs/eks.md", import.meta.url), "utf8");
    const generated = clusterRoleObjects("models")
      .map((object) => stringify(object))
      .join("---\n");
    expect(docs).toContain(`\`\`\`yaml\n${generated}\`\`\``);
  });
});
