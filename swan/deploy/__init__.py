"""`swan deploy`: The Swan on an empty AWS account, in one command.

`plan` decides the steps from the settings and what the state directory already holds (pure);
`aws` talks to AWS IoT, CloudFormation, S3 and CloudFront through boto3; `tools` finds and
runs the SAM CLI and Reflex; `runner` carries the steps out, or only prints them.
"""
