// `modelship abort <model>`: send-command.ts with the "Abort Requested" command.
import { ROLLOUT_COMMANDS, sendRolloutCommand } from "./send-command";

export function run(argv: string[]): Promise<number> {
  return sendRolloutCommand(ROLLOUT_COMMANDS.abort, argv);
}
