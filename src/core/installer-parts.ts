// install.sh is one file in the bundle, made from installer/install.sh and the parts it includes, so installer/ keeps
// one file per job (the push over HTTP, the seeded registry). A leaf with no imports: src/version.ts reads the
// template with it, and `kfbundle --version` must not load a YAML parser on the way.

/** A line of the template that stands for one of installer/'s parts: `# @@include registry-http.sh@@`. */
const INCLUDE_LINE = /^# @@include ([a-z0-9-]+\.sh)@@$/gm;

/** The parts of the template names, in the order it names them. */
export function installerPartsNamed(template: string): string[] {
  return [...template.matchAll(INCLUDE_LINE)].map((match) => match[1]!);
}

/**
 * The template with each include line replaced by that part's text (its own `#!` line dropped): the bundle carries
 * one install.sh, while installer/ keeps one file per job. A part named but not given is a packaging bug.
 */
export function inlineInstallerParts(template: string, parts: Readonly<Record<string, string>>): string {
  return template.replace(INCLUDE_LINE, (_, name: string) => {
    const text = parts[name];
    if (text === undefined) throw new Error(`installer template includes ${name}, which is not in installer/`);
    return text.replace(/^#!.*\n/, '').replace(/\n$/, '');
  });
}
