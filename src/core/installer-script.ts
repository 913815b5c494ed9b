// Fills the installer template from installer/ with the few values that differ per bundle.

export interface InstallerValues {
  toolVersion: string;
  formatVersion: number;
  imagesTar: string;
  manifestsDir: string;
  checksums: string;
}

/**
 * Replaces every `@@NAME@@` placeholder. A placeholder without a value is an error in the template, not in the
 * user's input, so it throws a plain Error (reported as a bug).
 */
export function renderInstaller(template: string, values: InstallerValues): string {
  const table: Record<string, string> = {
    KFBUNDLE_VERSION: values.toolVersion,
    FORMAT_VERSION: String(values.formatVersion),
    IMAGES_TAR: values.imagesTar,
    MANIFESTS_DIR: values.manifestsDir,
    CHECKSUMS: values.checksums,
  };
  return template.replace(/@@([A-Z_]+)@@/g, (_, name: string) => {
    const value = table[name];
    if (value === undefined) throw new Error(`installer template has unknown placeholder @@${name}@@`);
    return value;
  });
}
