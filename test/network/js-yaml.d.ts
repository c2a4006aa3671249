// js-yaml arrives with xmlbuilder2 and ships no types; the tests only need load().
declare module 'js-yaml' {
  export function load(text: string): unknown;
  const yaml: { load: typeof load };
  export default yaml;
}
