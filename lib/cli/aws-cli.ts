// What the CLI's AWS commands (status, rollback, promote, abort) share: the environment variables that name
// the stack's table and bus, and AWS failures said in words with what to do.

export const CLI_ENVIRONMENT = {
  /** The rollout table: the stack's RolloutTableName output. */
  table: "MODELSHIP_TABLE",
  /** The modelship event bus: the stack's EventBusName output. */
  bus: "MODELSHIP_BUS",
} as const;

/** How to find the stack's names, for messages. */
export const STACK_OUTPUTS_HINT =
  'aws cloudformation describe-stacks --stack-name Modelship --query "Stacks[0].Outputs"';

/** An AWS SDK failure as a sentence with what to do about it. */
export function describeAwsFailure(error: unknown): string {
  const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown };
  const said = typeof message === "string" && message ? message : String(error);
  switch (name) {
    case "CredentialsProviderError":
      return `no AWS credentials (${said}). Set AWS_PROFILE, or run \`aws configure\` / \`aws sso login\`.`;
    case "ResourceNotFoundException":
      return `${said}. Check the name against the stack's outputs (${STACK_OUTPUTS_HINT}) and the region (AWS_REGION).`;
    case "AccessDeniedException":
    case "AccessDenied":
    case "UnrecognizedClientException":
      return `${said}. Your AWS identity needs the permission named above, in the stack's account and region.`;
    default:
      if (/region is missing/i.test(said))
        return `no AWS region: set AWS_REGION (or a profile with a region).`;
      return `${typeof name === "string" ? `${name}: ` : ""}${said}`;
  }
}
