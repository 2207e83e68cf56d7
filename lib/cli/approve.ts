// `modelship approve <model>`: send-command.ts with the "Approve Requested" command.
import { ROLLOUT_COMMANDS, sendRolloutCommand } from "./send-command";

export function run(argv: string[]): Promise<number> {
  return sendRolloutCommand(ROLLOUT_COMMANDS.approve, argv);
}
