// The CDK app (cdk.json "app"): the sample stack, checked at synth by cdk-nag's AwsSolutions rules — any
// finding the construct has not acknowledged with a reason fails the synth.

import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { ModelshipStack } from "../lib/infra/sample-stack";

const app = new App();
new ModelshipStack(app, "Modelship", {
  description: "modelship: drop model weights into S3; they are validated, tested and rolled out by canary.",
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
