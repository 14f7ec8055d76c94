// The hub's identity assignment on the node: kept on disk, applied at start, listened for. [FM-ASSIGN-1..4]
export { identityStatus, moveStateDir, resolveAssignedIdentity, withAssignment } from './assigned-identity.js';
export { type AssignmentListener, type AssignmentListenerOptions, createAssignmentListener } from './assignment-listener.js';
export { assignmentPath, loadAssignment, type StoredAssignment, saveAssignment } from './assignment-store.js';
