/** The emulator's default VPC: where a test or the demo puts a fleet. */
import { DescribeSubnetsCommand, DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';

/** The default VPC at `endpoint` (moto or ministack) and two of its subnets, for a fleet's VpcId and Subnets parameters. */
export async function defaultVpc(endpoint: string): Promise<{ vpc: string; subnets: string[] }> {
  const ec2 = new EC2Client({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  try {
    const vpc = (await ec2.send(new DescribeVpcsCommand({}))).Vpcs?.find((v) => v.IsDefault)?.VpcId ?? '';
    const subnets = ((await ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? [])
      .filter((subnet) => subnet.VpcId === vpc)
      .slice(0, 2)
      .map((subnet) => subnet.SubnetId ?? '');
    return { vpc, subnets };
  } finally {
    ec2.destroy();
  }
}
