/**
 * One note per stack on a merge request, created on the first run and edited
 * on every later one. The note is found again by a hidden HTML comment that
 * names the stack, so re-runs do not pile up notes and two fleets previewed
 * in one project keep a note each.
 */
import type { GitLabClient } from './client.ts';

export interface MergeRequestRef {
  /** Numeric id or full path (CI_PROJECT_ID). */
  projectId: string;
  /** The merge request's iid within the project (CI_MERGE_REQUEST_IID). */
  mergeRequestIid: string;
}

interface Note {
  id: number;
  body: string;
  system?: boolean;
}

export interface NoteResult {
  action: 'created' | 'updated';
  noteId: number;
}

/** Invisible in rendered Markdown; ` -->` ends it, so `fleet` never matches `fleet-b`. */
export function previewNoteMarker(stackName: string): string {
  return `<!-- runner-fleet:preview stack=${stackName} -->`;
}

export async function upsertMergeRequestNote(
  client: GitLabClient,
  target: MergeRequestRef,
  marker: string,
  body: string,
): Promise<NoteResult> {
  const notesPath = `/projects/${encodeURIComponent(target.projectId)}/merge_requests/${encodeURIComponent(target.mergeRequestIid)}/notes`;
  const text = body.includes(marker) ? body : `${marker}\n${body}`;
  // Oldest first: if a copy ever got duplicated, the first one stays the one edited.
  const notes = await client.getAll<Note>(notesPath, { sort: 'asc', order_by: 'created_at' });
  const existing = notes.find((note) => !note.system && note.body.includes(marker));
  if (existing) {
    const updated = await client.put<Note>(`${notesPath}/${existing.id}`, { body: text });
    return { action: 'updated', noteId: updated.id ?? existing.id };
  }
  const created = await client.post<Note>(notesPath, { body: text });
  return { action: 'created', noteId: created.id };
}
