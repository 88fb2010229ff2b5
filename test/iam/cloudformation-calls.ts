/**
 * The calls CloudFormation makes with the deployer's credentials (the fleet
 * stack has no service role) for each resource type of cfn/runner-fleet.yaml.
 * The permissions come from the resource provider schemas'
 * handlers.*.permissions (handler-permissions.json says where from). Each
 * permission a handler declares is either turned into concrete calls on the
 * fleet's resources (ARN and the condition keys the request carries), or
 * marked as not exercised by this template, with the reason. The test fails
 * on a schema permission that is in neither list, so a new property or a new
 * schema version forces a decision here.
 */
import { ACCOUNT, arn, REGION } from './iam-calls.ts';
import { EXAMPLE } from './policies.ts';

export interface CallSpec {
  /** Defaults to the permission itself. */
  action?: string;
  resource: string;
  context?: Record<string, string | string[]>;
}

/** Calls, "expand" (every action the wildcard names, on '*'), or the reason it is not exercised. */
export type Classification = CallSpec[] | { expand: true } | { notExercised: string };

const stack = EXAMPLE.fleetStack;
const group = arn.group(`${stack}-runners`);
const logGroup = arn.logGroup(EXAMPLE.logGroup);
const securityGroup = arn.ec2('security-group', EXAMPLE.securityGroupId);
const launchTemplate = arn.ec2('launch-template', EXAMPLE.launchTemplateId);
const bucket = arn.bucket(EXAMPLE.cacheBucket);
const role = arn.role(EXAMPLE.instanceRoleName);
const profile = arn.instanceProfile(EXAMPLE.instanceProfileName);
const tagged = { 'aws:ResourceTag/runner-fleet:stack': stack };
const taggingOnCreate = {
  'aws:RequestTag/runner-fleet:stack': stack,
  'aws:RequestTag/Name': `${stack}-runners`,
  'aws:TagKeys': ['Name', 'runner-fleet:stack'],
};
const passToEc2 = { 'iam:PassedToService': 'ec2.amazonaws.com' };
const withBoundary = { 'iam:PermissionsBoundary': EXAMPLE.boundaryArn };
/** A consumer's addition through InstanceRoleManagedPolicyArns (ECR pulls, say). */
const CONSUMER_POLICY = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly';
const on = (resource: string, context?: CallSpec['context']): CallSpec[] => [
  { resource, ...(context ? { context } : {}) },
];
const star = on('*');
const noProperty = (property: string) => ({
  notExercised: `the template sets no ${property}`,
});
const LIST_HANDLER = 'list handler only: stack operations never call it';

export const HANDLER_CALLS: Record<string, Record<string, Classification>> = {
  'AWS::Logs::LogGroup': {
    'logs:DescribeLogGroups': star,
    'logs:CreateLogGroup': on(logGroup),
    'logs:PutRetentionPolicy': on(logGroup),
    'logs:DeleteRetentionPolicy': on(logGroup),
    // Stack tags (deploy --tag) propagate to the group.
    'logs:TagResource': on(logGroup),
    'logs:UntagResource': on(logGroup),
    'logs:ListTagsForResource': on(logGroup),
    'logs:GetDataProtectionPolicy': on(logGroup),
    'logs:DeleteDataProtectionPolicy': on(logGroup),
    'logs:DescribeIndexPolicies': star,
    'logs:DescribeResourcePolicies': star,
    'logs:DeleteLogGroup': on(logGroup),
    'logs:PutDataProtectionPolicy': noProperty('DataProtectionPolicy'),
    'logs:CreateLogDelivery': noProperty('log delivery'),
    's3:REST.PUT.OBJECT': noProperty('log delivery to S3'),
    'firehose:TagDeliveryStream': noProperty('log delivery to Firehose'),
    'logs:PutResourcePolicy': noProperty('ResourcePolicyDocument'),
    'logs:DeleteResourcePolicy': noProperty('ResourcePolicyDocument'),
    'logs:PutIndexPolicy': noProperty('FieldIndexPolicies'),
    'logs:DeleteIndexPolicy': noProperty('FieldIndexPolicies'),
    'logs:PutBearerTokenAuthentication': noProperty('BearerTokenAuthenticationEnabled'),
    'logs:AssociateKmsKey': noProperty('KmsKeyId'),
    'logs:DisassociateKmsKey': noProperty('KmsKeyId'),
    'logs:PutLogGroupDeletionProtection': noProperty('DeletionProtectionEnabled'),
  },
  'AWS::EC2::SecurityGroup': {
    'ec2:CreateSecurityGroup': [
      { resource: securityGroup, context: taggingOnCreate },
      { resource: arn.ec2('vpc', 'vpc-0123456789abcdef0') },
    ],
    'ec2:CreateTags': [
      { resource: securityGroup, context: { ...taggingOnCreate, 'ec2:CreateAction': 'CreateSecurityGroup' } },
      {
        resource: securityGroup,
        context: { ...tagged, 'aws:TagKeys': ['team'], 'aws:RequestTag/team': 'platform' },
      },
    ],
    'ec2:DeleteTags': on(securityGroup, tagged),
    'ec2:DescribeSecurityGroups': star,
    'ec2:DescribeInstances': star,
    // The default allow-all egress rule is revoked, the template's rules authorized.
    'ec2:RevokeSecurityGroupEgress': on(securityGroup, tagged),
    'ec2:AuthorizeSecurityGroupEgress': on(securityGroup, tagged),
    'ec2:UpdateSecurityGroupRuleDescriptionsEgress': on(securityGroup, tagged),
    'ec2:DeleteSecurityGroup': on(securityGroup, tagged),
    // docker-autoscaler: the worker group's SSH rule from the manager's group.
    'ec2:AuthorizeSecurityGroupIngress': on(securityGroup, tagged),
    'ec2:RevokeSecurityGroupIngress': on(securityGroup, tagged),
    'ec2:UpdateSecurityGroupRuleDescriptionsIngress': on(securityGroup, tagged),
  },
  'AWS::S3::Bucket': {
    's3:CreateBucket': on(bucket),
    's3:DeleteBucket': on(bucket),
    's3:ListBucket': on(bucket),
    's3:PutBucketTagging': on(bucket),
    's3:TagResource': on(bucket),
    's3:UntagResource': on(bucket),
    's3:PutEncryptionConfiguration': on(bucket),
    's3:PutLifecycleConfiguration': on(bucket),
    's3:PutBucketPublicAccessBlock': on(bucket),
    's3:PutBucketOwnershipControls': on(bucket),
    // The read handler reads every configuration back after each create and update.
    's3:GetAccelerateConfiguration': on(bucket),
    's3:GetLifecycleConfiguration': on(bucket),
    's3:GetBucketPublicAccessBlock': on(bucket),
    's3:GetAnalyticsConfiguration': on(bucket),
    's3:GetBucketCORS': on(bucket),
    's3:GetEncryptionConfiguration': on(bucket),
    's3:GetInventoryConfiguration': on(bucket),
    's3:GetBucketLogging': on(bucket),
    's3:GetMetricsConfiguration': on(bucket),
    's3:GetBucketNotification': on(bucket),
    's3:GetBucketVersioning': on(bucket),
    's3:GetReplicationConfiguration': on(bucket),
    'S3:GetBucketWebsite': [{ action: 's3:GetBucketWebsite', resource: bucket }],
    's3:GetBucketObjectLockConfiguration': on(bucket),
    's3:GetBucketTagging': on(bucket),
    's3:ListTagsForResource': on(bucket),
    's3:GetBucketAbac': on(bucket),
    's3:GetBucketOwnershipControls': on(bucket),
    's3:GetIntelligentTieringConfiguration': on(bucket),
    's3:GetBucketMetadataTableConfiguration': on(bucket),
    's3:GetBucketAcl': on(bucket),
    's3:PutBucketAbac': noProperty('AbacStatus'),
    's3:PutAnalyticsConfiguration': noProperty('AnalyticsConfigurations'),
    's3:DeleteBucketAnalyticsConfiguration': noProperty('AnalyticsConfigurations'),
    's3:PutBucketCORS': noProperty('CorsConfiguration'),
    's3:DeleteBucketCors': noProperty('CorsConfiguration'),
    's3:PutInventoryConfiguration': noProperty('InventoryConfigurations'),
    's3:PutMetricsConfiguration': noProperty('MetricsConfigurations'),
    's3:DeleteBucketMetricsConfiguration': noProperty('MetricsConfigurations'),
    's3:PutBucketNotification': noProperty('NotificationConfiguration'),
    's3:PutBucketReplication': noProperty('ReplicationConfiguration'),
    's3:PutReplicationConfiguration': noProperty('ReplicationConfiguration'),
    's3:DeleteBucketReplication': noProperty('ReplicationConfiguration'),
    'iam:PassRole': noProperty('ReplicationConfiguration (its role)'),
    's3:PutBucketWebsite': noProperty('WebsiteConfiguration'),
    's3:DeleteBucketWebsite': noProperty('WebsiteConfiguration'),
    's3:PutAccelerateConfiguration': noProperty('AccelerateConfiguration'),
    's3:PutObjectAcl': noProperty('AccessControl'),
    's3:PutBucketAcl': noProperty('AccessControl'),
    's3:PutBucketObjectLockConfiguration': noProperty('ObjectLockConfiguration'),
    's3:PutObjectLockConfiguration': noProperty('ObjectLockConfiguration'),
    's3:PutBucketLogging': noProperty('LoggingConfiguration'),
    's3:PutBucketVersioning': noProperty('VersioningConfiguration'),
    's3:PutIntelligentTieringConfiguration': noProperty('IntelligentTieringConfigurations'),
    's3:DeleteObject': {
      notExercised:
        'the create handler deletes objects only for an object-lock or replication setup; destroy empties the bucket itself (s3:DeleteObject is recorded there)',
    },
    // Removing a configuration the template always sets.
    's3:DeleteBucketEncryption': {
      notExercised: 'BucketEncryption is set by every version of the template',
    },
    's3:DeleteBucketLifecycle': {
      notExercised: 'LifecycleConfiguration is set by every version of the template',
    },
    's3:CreateBucketMetadataTableConfiguration': noProperty('MetadataTableConfiguration'),
    's3:DeleteBucketMetadataTableConfiguration': noProperty('MetadataTableConfiguration'),
    's3:UpdateBucketMetadataJournalTableConfiguration': noProperty('MetadataConfiguration'),
    's3:UpdateBucketMetadataInventoryTableConfiguration': noProperty('MetadataConfiguration'),
    's3:UpdateBucketMetadataAnnotationTableConfiguration': noProperty('MetadataConfiguration'),
    's3tables:CreateNamespace': noProperty('MetadataTableConfiguration'),
    's3tables:CreateTable': noProperty('MetadataTableConfiguration'),
    's3tables:CreateTableBucket': noProperty('MetadataTableConfiguration'),
    's3tables:GetTable': noProperty('MetadataTableConfiguration'),
    's3tables:PutTableBucketPolicy': noProperty('MetadataTableConfiguration'),
    's3tables:PutTableEncryption': noProperty('MetadataTableConfiguration'),
    's3tables:PutTablePolicy': noProperty('MetadataTableConfiguration'),
    's3tables:GetTableMetadataLocation': noProperty('MetadataTableConfiguration'),
    's3tables:UpdateTableMetadataLocation': noProperty('MetadataTableConfiguration'),
    's3:ListAllMyBuckets': { notExercised: LIST_HANDLER },
  },
  'AWS::S3::BucketPolicy': {
    's3:GetBucketPolicy': on(bucket),
    's3:PutBucketPolicy': on(bucket),
    's3:DeleteBucketPolicy': on(bucket),
    's3:ListAllMyBuckets': { notExercised: LIST_HANDLER },
  },
  'AWS::IAM::Role': {
    'iam:CreateRole': on(role, {
      ...withBoundary,
      'aws:RequestTag/runner-fleet:stack': stack,
      'aws:TagKeys': ['runner-fleet:stack'],
    }),
    'iam:GetRole': on(role),
    'iam:GetRolePolicy': on(role),
    'iam:ListRolePolicies': on(role),
    'iam:ListAttachedRolePolicies': on(role),
    'iam:TagRole': on(role),
    'iam:UntagRole': on(role),
    'iam:UpdateRoleDescription': on(role),
    'iam:DeleteRolePolicy': on(role),
    'iam:DeleteRole': on(role),
    // Fleet roles of older versions carry AmazonSSMManagedInstanceCore and lose it on update.
    'iam:DetachRolePolicy': [
      ...on(role, { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore' }),
      // A policy dropped from InstanceRoleManagedPolicyArns.
      ...on(role, { 'iam:PolicyARN': CONSUMER_POLICY, ...withBoundary }),
    ],
    // Sets the boundary on a fleet role created before it had one.
    'iam:PutRolePermissionsBoundary': on(role, withBoundary),
    'iam:PutRolePolicy': {
      notExercised: 'the role has no Policies property: InstancePolicy (AWS::IAM::Policy) puts it',
    },
    // InstanceRoleManagedPolicyArns (ManagedPolicyArns), on a role with the boundary.
    'iam:AttachRolePolicy': on(role, { 'iam:PolicyARN': CONSUMER_POLICY, ...withBoundary }),
    'iam:UpdateRole': noProperty('MaxSessionDuration'),
    'iam:UpdateAssumeRolePolicy': {
      notExercised:
        'the trust policy (ec2 only) is the same in every version; a deployer that could rewrite it could make a fleet role assumable by anyone',
    },
    'iam:DeleteRolePermissionsBoundary': {
      notExercised: 'the boundary is never removed; the deploy role is denied this on purpose',
    },
    'iam:ListRoles': { notExercised: LIST_HANDLER },
  },
  'AWS::IAM::Policy': {
    'iam:GetRolePolicy': on(role),
    'iam:PutRolePolicy': on(role, withBoundary),
    'iam:DeleteRolePolicy': on(role),
    'iam:GetUserPolicy': { notExercised: 'the policy is attached to a role only' },
    'iam:PutUserPolicy': { notExercised: 'the policy is attached to a role only' },
    'iam:DeleteUserPolicy': { notExercised: 'the policy is attached to a role only' },
    'iam:GetGroupPolicy': { notExercised: 'the policy is attached to a role only' },
    'iam:PutGroupPolicy': { notExercised: 'the policy is attached to a role only' },
    'iam:DeleteGroupPolicy': { notExercised: 'the policy is attached to a role only' },
  },
  'AWS::IAM::InstanceProfile': {
    'iam:CreateInstanceProfile': on(profile),
    'iam:GetInstanceProfile': on(profile),
    'iam:AddRoleToInstanceProfile': on(profile),
    'iam:RemoveRoleFromInstanceProfile': on(profile),
    'iam:DeleteInstanceProfile': on(profile),
    'iam:PassRole': on(role, passToEc2),
    'iam:ListInstanceProfiles': { notExercised: LIST_HANDLER },
  },
  'AWS::EC2::LaunchTemplate': {
    'ec2:CreateLaunchTemplate': on(launchTemplate, taggingOnCreate),
    'ec2:CreateTags': [
      {
        resource: launchTemplate,
        context: { ...taggingOnCreate, 'ec2:CreateAction': 'CreateLaunchTemplate' },
      },
      {
        resource: launchTemplate,
        context: { ...tagged, 'aws:TagKeys': ['team'], 'aws:RequestTag/team': 'platform' },
      },
    ],
    'ec2:CreateLaunchTemplateVersion': on(launchTemplate, tagged),
    'ec2:DeleteTags': on(launchTemplate, tagged),
    'ec2:DeleteLaunchTemplate': on(launchTemplate, tagged),
    'ec2:DescribeLaunchTemplates': star,
  },
  'AWS::AutoScaling::AutoScalingGroup': {
    'autoscaling:CreateAutoScalingGroup': on(group, {
      'autoscaling:LaunchTemplateVersionSpecified': 'true',
      'aws:RequestTag/runner-fleet:stack': stack,
      'aws:TagKeys': ['Name', 'runner-fleet:stack'],
    }),
    'autoscaling:UpdateAutoScalingGroup': on(group, { 'autoscaling:LaunchTemplateVersionSpecified': 'true' }),
    'autoscaling:CreateOrUpdateTags': on(group),
    'autoscaling:DeleteTags': on(group),
    'autoscaling:Describe*': { expand: true },
    'autoscaling:EnableMetricsCollection': on(group),
    'autoscaling:DisableMetricsCollection': on(group),
    'autoscaling:PutLifecycleHook': on(group),
    'autoscaling:DeleteLifecycleHook': on(group),
    'autoscaling:StartInstanceRefresh': on(group),
    'autoscaling:CancelInstanceRefresh': on(group),
    'autoscaling:DeleteAutoScalingGroup': on(group),
    'ec2:Describe*': { expand: true },
    // Attribute-based instance types (InstanceRequirements overrides).
    'ec2:Get*': [{ action: 'ec2:GetInstanceTypesFromInstanceRequirements', resource: '*' }],
    // What the launch template launches, checked when the group is created or updated.
    'ec2:RunInstances': [
      { resource: launchTemplate, context: tagged },
      ...[
        'instance/i-0123456789abcdef0',
        'volume/vol-0123456789abcdef0',
        'network-interface/eni-0123456789abcdef0',
      ]
        .concat(['subnet/subnet-0123456789abcdef0', `security-group/${EXAMPLE.securityGroupId}`])
        .map((path) => ({
          resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:${path}`,
          context: { 'ec2:LaunchTemplate': launchTemplate },
        })),
      { resource: arn.image('ami-0123456789abcdef0'), context: { 'ec2:LaunchTemplate': launchTemplate } },
      // Spot requests carry no ec2:LaunchTemplate key.
      { resource: arn.ec2('spot-instances-request', 'sir-01234567') },
    ],
    'iam:PassRole': on(role, passToEc2),
    'iam:CreateServiceLinkedRole': on(
      arn.role('aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling'),
      { 'iam:AWSServiceName': 'autoscaling.amazonaws.com' },
    ),
    'autoscaling:PutNotificationConfiguration': noProperty('NotificationConfigurations'),
    'autoscaling:DeleteNotificationConfiguration': noProperty('NotificationConfigurations'),
    'autoscaling:AttachLoadBalancerTargetGroups': noProperty('TargetGroupARNs'),
    'autoscaling:DetachLoadBalancerTargetGroups': noProperty('TargetGroupARNs'),
    'autoscaling:AttachLoadBalancers': noProperty('LoadBalancerNames'),
    'autoscaling:DetachLoadBalancers': noProperty('LoadBalancerNames'),
    'autoscaling:AttachTrafficSources': noProperty('TrafficSources'),
    'autoscaling:DetachTrafficSources': noProperty('TrafficSources'),
    'elasticloadbalancing:Describe*': noProperty('load balancer or target group'),
    'vpc-lattice:DeregisterTargets': noProperty('TrafficSources (VPC Lattice)'),
    'vpc-lattice:GetTargetGroup': noProperty('TrafficSources (VPC Lattice)'),
    'vpc-lattice:ListTargets': noProperty('TrafficSources (VPC Lattice)'),
    'vpc-lattice:RegisterTargets': noProperty('TrafficSources (VPC Lattice)'),
    'cloudwatch:PutMetricAlarm': {
      notExercised:
        'the group defines no alarm; target tracking alarms are created by the Auto Scaling service-linked role',
    },
    'ssm:Get*': {
      notExercised:
        'the launch template names an AMI id (CloudFormation resolves the AMI parameter), not resolve:ssm:',
    },
    'managed-fleets:Get*': { notExercised: 'not a managed fleet group' },
    'managed-fleets:CreateAutoScalingGroup': { notExercised: 'not a managed fleet group' },
    'managed-fleets:UpdateAutoScalingGroup': { notExercised: 'not a managed fleet group' },
    'managed-fleets:RegisterAutoScalingGroup': { notExercised: 'not a managed fleet group' },
    'managed-fleets:DeregisterAutoScalingGroup': { notExercised: 'not a managed fleet group' },
    'managed-fleets:DeleteAutoScalingGroup': { notExercised: 'not a managed fleet group' },
  },
  'AWS::AutoScaling::ScalingPolicy': {
    'autoscaling:DescribePolicies': star,
    'autoscaling:PutScalingPolicy': on(group),
    'autoscaling:DeletePolicy': on(group),
    // Checks the custom metric (JobSlotSaturation / MemoryUtilization).
    'cloudwatch:GetMetricData': star,
  },
  'AWS::AutoScaling::ScheduledAction': {
    'autoscaling:PutScheduledUpdateGroupAction': on(group),
    'autoscaling:DescribeScheduledActions': star,
    'autoscaling:DeleteScheduledAction': on(group),
  },
};
