/**
 * The words of the course page's refusal views, shared by the server (which draws them when the
 * request carries the session cookie) and the browser (which draws them in the cookieless
 * platform-storage flow), so both say exactly the same thing.
 */
export interface Refusal {
  title: string;
  lines: string[];
}

export function forbiddenWords(a: {
  courseTitle: string;
  you: string;
  missing: Array<{ key: string; label: string }>;
  managers: string[];
}): Refusal {
  // the catalogue's words; the key stays out of sight (a hint for the school's IT, in the title of the page's headers)
  const need = a.missing.map((m) => `“${m.label}”`).join(' or ');
  const whom = a.managers.length
    ? `Ask ${a.managers.length > 1 ? `${a.managers.slice(0, -1).join(', ')} or ${a.managers.at(-1)}` : a.managers[0]}, who manage${a.managers.length > 1 ? '' : 's'} privileges in this course, or your school's IT administrator to grant it to you.`
    : "Ask your school's IT administrator to grant it to you.";
  return {
    title: 'You can’t open this course’s privileges',
    lines: [`This page needs ${need} in ${a.courseTitle}. You are signed in as ${a.you}, who has neither.`, whom],
  };
}

export const UNAUTHENTICATED: Refusal = {
  title: 'Open this page from your course',
  lines: [
    'This page opens from your course in your school’s learning platform, which signs you in.',
    'Go back to the course and open Rosterbridge from there. If you did and still see this, your sign-in has expired: open it again.',
  ],
};
