// `modelship reject <model>`: send-command.ts with the "Reject Requested" command.
import { ROLLOUT_COMMANDS, sendRolloutCommand } from "./send-command";

export function run(argv: string[]): Promise<number> {
  return sendRolloutCommand(ROLLOUT_COMMANDS.reject, argv);
}
