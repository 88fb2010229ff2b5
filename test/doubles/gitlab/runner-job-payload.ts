/**
 * The job JSON GitLab answers POST /jobs/request with (201), as the real
 * gitlab-runner reads it: common/spec/spec.go (JobResponse) at the pinned
 * revision. One shell script step and GIT_STRATEGY=none, so the shell
 * executor runs it in an empty build directory without cloning. Used by the
 * drain rig's double and by the token-rotation double.
 */

/** The failure reasons GitLab tells the runner it understands (features.failure_reasons, common/network.go). */
export const SUPPORTED_FAILURE_REASONS = [
  'unknown_failure',
  'script_failure',
  'api_failure',
  'stuck_or_timeout_failure',
  'runner_system_failure',
  'job_execution_timeout',
  'runner_unsupported',
  'runner_interrupted',
];

export interface RunnerJobPayloadInput {
  id: number;
  name: string;
  /** The job token the runner sends back on updates and trace patches. */
  token: string;
  script: string[];
  /** The double's own URL (CI_SERVER_URL, the repository URL). */
  serverUrl: string;
  /** Project name under `rig/`. */
  project: string;
  timeoutSeconds: number;
}

export function runnerJobPayload(job: RunnerJobPayloadInput): unknown {
  return {
    id: job.id,
    token: job.token,
    allow_git_fetch: false,
    job_info: {
      id: job.id,
      name: job.name,
      stage: 'test',
      project_id: 1,
      project_name: job.project,
      project_full_path: `rig/${job.project}`,
      pipeline_id: 1,
    },
    git_info: {
      repo_url: `${job.serverUrl}/rig/${job.project}.git`,
      ref: 'main',
      sha: '0123456789abcdef0123456789abcdef01234567',
      before_sha: '0000000000000000000000000000000000000000',
      ref_type: 'branch',
      refspecs: [],
      depth: 0,
    },
    runner_info: { timeout: job.timeoutSeconds },
    variables: [
      // No clone: the job runs in an empty build directory.
      { key: 'GIT_STRATEGY', value: 'none', public: true },
      { key: 'CI_JOB_ID', value: String(job.id), public: true },
      { key: 'CI_JOB_NAME', value: job.name, public: true },
      { key: 'CI_SERVER_URL', value: job.serverUrl, public: true },
    ],
    steps: [
      {
        name: 'script',
        script: job.script,
        timeout: job.timeoutSeconds,
        when: 'on_success',
        allow_failure: false,
      },
    ],
    image: { name: '' },
    services: [],
    artifacts: [],
    cache: [],
    credentials: [],
    dependencies: [],
    features: { trace_sections: true, failure_reasons: SUPPORTED_FAILURE_REASONS },
  };
}
