// What each Lambda function calls on the ports: the port use of the stage (or stages) its handler runs.
// functions/<name>.ts hands its stage deps typed by its row (lib/aws/lambda/stage-handler.ts), so a handler
// whose stage uses a method its row lacks does not compile; the construct derives each function's IAM
// grants and Kubernetes groups from its row (lib/infra/function-access.ts).

import type { ModelshipFunction } from "../core/state-machine/pipeline-functions";
import { ALARM_ROLLBACK_USES } from "./alarm-rollback";
import { CANARY_STEP_USES } from "./canary-step";
import { CHECK_CANARY_USES } from "./check-canary";
import { CHECK_CANDIDATE_USES } from "./check-candidate";
import { CLEANUP_USES } from "./cleanup";
import { COMMAND_USES } from "./commands";
import { DEPLOY_CANDIDATE_USES } from "./deploy-candidate";
import { EVAL_SHARD_USES } from "./eval-shard";
import { FINALIZE_USES } from "./finalize";
import { MERGE_EVAL_USES } from "./merge-eval";
import { MERGE_STRESS_USES } from "./merge-stress";
import type { PortUse } from "./port-use";
import { PREPARE_USES } from "./prepare";
import { PROBE_USES } from "./probe";
import { PROMOTE_USES } from "./promote";
import { REGISTER_GATEWAY_USES } from "./register-gateway";
import { REQUEST_APPROVAL_USES } from "./request-approval";
import { ROLLBACK_USES } from "./rollback";
import { RUN_HOOKS_USES } from "./run-hooks";
import { SHADOW_USES } from "./shadow";
import { SMOKE_TEST_USES } from "./smoke-test";
import { START_USES } from "./start";
import { STRESS_WORKER_USES } from "./stress-worker";
import { VALIDATE_USES } from "./validate";

export const FUNCTION_PORT_USE = {
  Start: START_USES,
  Prepare: PREPARE_USES,
  Validate: VALIDATE_USES,
  DeployCandidate: DEPLOY_CANDIDATE_USES,
  CheckCandidate: CHECK_CANDIDATE_USES,
  SmokeTest: SMOKE_TEST_USES,
  StressWorker: STRESS_WORKER_USES,
  MergeStress: MERGE_STRESS_USES,
  EvalShard: EVAL_SHARD_USES,
  MergeEval: MERGE_EVAL_USES,
  RegisterGateway: REGISTER_GATEWAY_USES,
  // At each point of the rollout that has hooks (PreTrafficHooks, StepHooks, PrePromoteHooks, PostPromoteHooks).
  RunHooks: RUN_HOOKS_USES,
  RequestApproval: REQUEST_APPROVAL_USES,
  // The shadow phase before the first step (StartShadow, CheckShadow, EndShadow).
  Shadow: SHADOW_USES,
  CanaryStep: CANARY_STEP_USES,
  // After each bake (CheckCanary) and after the watch (CheckWatch).
  CheckCanary: CHECK_CANARY_USES,
  Promote: PROMOTE_USES,
  Finalize: FINALIZE_USES,
  Rollback: ROLLBACK_USES,
  Cleanup: CLEANUP_USES,
  Prober: PROBE_USES,
  Command: COMMAND_USES,
  AlarmRollback: ALARM_ROLLBACK_USES,
} as const satisfies Record<ModelshipFunction, PortUse>;
