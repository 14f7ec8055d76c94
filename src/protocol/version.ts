// The fieldmesh release version, announced in births and build info (a test keeps it equal to package.json).
export const FIELDMESH_VERSION = '0.1.0';
