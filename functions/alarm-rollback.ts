// Lambda entry for the EventBridge rule on "CloudWatch Alarm State Change" of modelship-* alarms: an alarm in ALARM rolls its rollout back at once.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { rollbackOnAlarm } from "../lib/pipeline/alarm-rollback";

export const handler = stageHandler("AlarmRollback", rollbackOnAlarm);
