// Modules the console build generates (scripts/build-console.mjs).

declare module 'virtual:land-110m' {
  /** Natural Earth 110m land as one SVG path, in steps of LAND_STEP_DEG, x = longitude, y = -latitude. */
  export const LAND_PATH: string;
  /** Natural Earth 110m country borders on land (no coastlines), same units. */
  export const BORDERS_PATH: string;
  export const LAND_STEP_DEG: number;
}

/** Stylesheets imported for their side effect: Vite bundles them. */
declare module '*.css';
