/** Marking an instance unhealthy so its Auto Scaling group replaces it (through the normal drain). */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';

export async function markInstanceUnhealthy(client: AutoScalingClient, instanceId: string): Promise<void> {
  const { SetInstanceHealthCommand } = await import('@aws-sdk/client-auto-scaling');
  await client.send(
    new SetInstanceHealthCommand({
      InstanceId: instanceId,
      HealthStatus: 'Unhealthy',
      // A new instance gets its grace period to register before it can be judged.
      ShouldRespectGracePeriod: true,
    }),
  );
}
