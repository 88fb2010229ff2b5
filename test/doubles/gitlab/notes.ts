/**
 * Merge request note routes for the GitLab API double: list (paginated,
 * `sort`), create, update. Unknown merge requests and notes answer 404 as
 * GitLab does. Notes live in `state` so tests can look at them directly.
 */
import { type GitLabDouble, paginate } from './server.ts';

export interface DoubleNote {
  id: number;
  body: string;
  system: boolean;
  noteable_type: 'MergeRequest';
  noteable_iid: number;
  author: { id: number; username: string };
  created_at: string;
  updated_at: string;
}

export interface NotesState {
  /** Notes per merge request, keyed `projectId!iid` (the project id as the client sent it, decoded). */
  notes: Map<string, DoubleNote[]>;
  addMergeRequest(projectId: string, iid: number, existing?: Partial<DoubleNote>[]): void;
  notesOf(projectId: string, iid: number): DoubleNote[];
}

const key = (projectId: string, iid: string | number) => `${projectId}!${iid}`;

export function addNoteRoutes(double: GitLabDouble): NotesState {
  const notes = new Map<string, DoubleNote[]>();
  let nextId = 1000;
  let tick = 0;
  // A fixed, increasing clock keeps the order of notes deterministic.
  const now = () => new Date(Date.UTC(2026, 10, 28, 10, 0, tick++)).toISOString();
  const make = (iid: number, partial: Partial<DoubleNote>): DoubleNote => {
    const at = now();
    return {
      id: nextId++,
      body: '',
      system: false,
      noteable_type: 'MergeRequest',
      noteable_iid: iid,
      author: { id: 7, username: 'project_42_bot' },
      created_at: at,
      updated_at: at,
      ...partial,
    };
  };
  const state: NotesState = {
    notes,
    addMergeRequest(projectId, iid, existing = []) {
      notes.set(
        key(projectId, iid),
        existing.map((partial) => make(iid, partial)),
      );
    },
    notesOf: (projectId, iid) => notes.get(key(projectId, iid)) ?? [],
  };
  const mrNotFound = { status: 404, body: { message: '404 Not found' } };

  double.addRoute('GET', '/projects/:id/merge_requests/:iid/notes', (request) => {
    const list = notes.get(key(request.params.id ?? '', request.params.iid ?? ''));
    if (!list) return mrNotFound;
    // GitLab's default order is newest first.
    const sorted = [...list].sort((a, b) => a.created_at.localeCompare(b.created_at));
    if (request.query.get('sort') !== 'asc') sorted.reverse();
    return paginate(sorted, request.query);
  });

  double.addRoute('POST', '/projects/:id/merge_requests/:iid/notes', (request) => {
    const list = notes.get(key(request.params.id ?? '', request.params.iid ?? ''));
    if (!list) return mrNotFound;
    const body = (request.body as { body?: unknown } | undefined)?.body;
    if (typeof body !== 'string' || body.length === 0) {
      return { status: 400, body: { message: { body: ["can't be blank"] } } };
    }
    const note = make(Number(request.params.iid), { body });
    list.push(note);
    return { status: 201, body: note };
  });

  double.addRoute('PUT', '/projects/:id/merge_requests/:iid/notes/:note_id', (request) => {
    const list = notes.get(key(request.params.id ?? '', request.params.iid ?? ''));
    const note = list?.find((n) => String(n.id) === request.params.note_id);
    if (!note) return { status: 404, body: { message: '404 Note Not Found' } };
    const body = (request.body as { body?: unknown } | undefined)?.body;
    if (typeof body !== 'string' || body.length === 0) {
      return { status: 400, body: { message: { body: ["can't be blank"] } } };
    }
    note.body = body;
    note.updated_at = now();
    return { status: 200, body: note };
  });

  return state;
}
