# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)

from __future__ import annotations


class ModuleDocFragment(object):
    # Options of provider=aws (AWS ELBv2 target groups).
    DOCUMENTATION = r'''
options:
  region:
    description:
      - AWS region of the target groups.
      - When not given, the SDK's standard chain applies (E(AWS_REGION), E(AWS_DEFAULT_REGION),
        the profile); with I(target=auto) the instance metadata's region is used last.
    type: str
    aliases: [aws_region, ec2_region]
  profile:
    description: Named profile of the shared AWS configuration and credentials files.
    type: str
    aliases: [aws_profile]
  access_key:
    description:
      - AWS access key id. Without it the SDK's standard credential chain applies
        (environment, shared profile, instance role).
      - Never returned or logged.
    type: str
    aliases: [aws_access_key_id, aws_access_key]
  secret_key:
    description: AWS secret access key, required with I(access_key). Never returned or logged.
    type: str
    aliases: [aws_secret_access_key, aws_secret_key]
  session_token:
    description: AWS session token for temporary credentials. Never returned or logged.
    type: str
    aliases: [aws_session_token]
  endpoint_url:
    description:
      - ELBv2 API endpoint to use instead of AWS's, such as a simulator or another compatible
        endpoint. E(AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2) and E(AWS_ENDPOINT_URL) are honoured too.
    type: str
    aliases: [aws_endpoint_url]
  target_group_arns:
    description:
      - ARNs of the target groups to work on; one instance often sits in several.
      - The groups are read, changed and checked at the same time (one request to each at once),
        so a task over several groups takes about as long as one over a single group. Prefer one
        task listing every group of the instance to a loop with one group per task.
      - With I(provider=aws), exactly one of I(target_group_arns) and I(target_group_names) is required.
    type: list
    elements: str
  target_group_names:
    description: Names of the target groups to work on, in the region.
    type: list
    elements: str
'''
