// The session's role. Pages leave out what the role may not do (adding, editing and removing
// cameras, drawing zones and masks are an admin's); the server refuses it anyway (403).

let role = 'admin';

/** Sets the role from the session ({auth_required, role}): no authentication means admin. */
export function set(s) {
  role = s.role || (s.auth_required ? 'viewer' : 'admin');
  document.body.dataset.role = role;
}

export const isAdmin = () => role === 'admin';
