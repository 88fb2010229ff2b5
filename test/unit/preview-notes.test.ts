/** The merge request note: created once, found again by its marker, updated in place; GitLab errors as exit 1. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGitLabClient, GitLabApiError } from '../../scripts/gitlab/client.ts';
import { previewNoteMarker, upsertMergeRequestNote } from '../../scripts/gitlab/merge-request-notes.ts';
import { addNoteRoutes, type NotesState } from '../doubles/gitlab/notes.ts';
import { type GitLabDouble, startGitLabDouble } from '../doubles/gitlab/server.ts';

let double: GitLabDouble;
let state: NotesState;
const TOKEN = 'glpat-notes-test-token';
const target = { projectId: '42', mergeRequestIid: '7' };

beforeEach(async () => {
  double = await startGitLabDouble({ tokens: [TOKEN] });
  state = addNoteRoutes(double);
});
afterEach(() => double.close());

const client = (token = TOKEN) => createGitLabClient({ apiUrl: double.apiUrl, token });

describe('upsertMergeRequestNote', () => {
  it('creates the note with its marker first, then updates the same note', async () => {
    state.addMergeRequest('42', 7, [{ body: 'LGTM' }]);
    const marker = previewNoteMarker('fleet-prod');
    expect(marker).toBe('<!-- runner-fleet:preview stack=fleet-prod -->');

    const first = await upsertMergeRequestNote(client(), target, marker, 'first report\n');
    expect(first.action).toBe('created');
    const second = await upsertMergeRequestNote(client(), target, marker, 'second report\n');
    expect(second).toEqual({ action: 'updated', noteId: first.noteId });

    expect(state.notesOf('42', 7).map((n) => n.body)).toEqual([
      'LGTM',
      '<!-- runner-fleet:preview stack=fleet-prod -->\nsecond report\n',
    ]);
    expect(double.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /projects/42/merge_requests/7/notes',
      'POST /projects/42/merge_requests/7/notes',
      'GET /projects/42/merge_requests/7/notes',
      `PUT /projects/42/merge_requests/7/notes/${first.noteId}`,
    ]);
  });

  it('keeps one note per stack, and finds its note past the first page', async () => {
    state.addMergeRequest(
      '42',
      7,
      Array.from({ length: 130 }, (_, i) => ({ body: `comment ${i}` })),
    );
    await upsertMergeRequestNote(client(), target, previewNoteMarker('fleet'), 'a');
    await upsertMergeRequestNote(client(), target, previewNoteMarker('fleet-b'), 'b');
    await upsertMergeRequestNote(client(), target, previewNoteMarker('fleet'), 'a2');
    const ours = state.notesOf('42', 7).filter((n) => n.body.includes('runner-fleet:preview'));
    expect(ours.map((n) => n.body)).toEqual([
      '<!-- runner-fleet:preview stack=fleet -->\na2',
      '<!-- runner-fleet:preview stack=fleet-b -->\nb',
    ]);
    expect(double.requests.filter((r) => r.method === 'GET').map((r) => r.query.get('page'))).toEqual([
      '1',
      '2',
      '1',
      '2',
      '1',
      '2',
    ]);
  });

  it('ignores system notes that quote the marker', async () => {
    const marker = previewNoteMarker('fleet');
    state.addMergeRequest('42', 7, [{ body: `changed the description ${marker}`, system: true }]);
    expect((await upsertMergeRequestNote(client(), target, marker, 'x')).action).toBe('created');
  });

  it.each([
    [401, 'glpat-wrong', 'the token is missing, expired or revoked; set RUNNER_FLEET_GITLAB_TOKEN'],
    [403, 'glpat-forbidden', 'the token lacks the permission or scope'],
  ])(
    'fails with exit 1 and the hint on %i, without the token in the message',
    async (status, token, hint) => {
      state.addMergeRequest('42', 7);
      if (status === 403) double.forbiddenTokens.add(token);
      const failure = await upsertMergeRequestNote(client(token), target, 'm', 'x').catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(GitLabApiError);
      expect((failure as GitLabApiError).exitCode).toBe(1);
      expect((failure as GitLabApiError).message).toContain(`answered ${status}: ${hint}`);
      expect((failure as GitLabApiError).message).not.toContain(token);
    },
  );

  it('answers 404 for an unknown merge request', async () => {
    const failure = await upsertMergeRequestNote(
      client(),
      { projectId: '42', mergeRequestIid: '99' },
      'm',
      'x',
    ).catch((e: unknown) => e);
    expect((failure as GitLabApiError).status).toBe(404);
  });
});
