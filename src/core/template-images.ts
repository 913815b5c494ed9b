// Image fields inside template text held in ConfigMaps (Istio's injection templates, Go templates): the text is no
// document until a controller fills it in, so it is read line by line. A field whose value has no template action in
// it names an image as written; one built from actions is resolved only through the values it reads.

/** Go template actions: `{{ .Values.x }}`, `{{- if … }}`, `{{ $var }}`; not Argo's `{{workflow.name}}`. */
const GO_TEMPLATE = /\{\{-?\s*(?:[.$]|(?:if|else|end|range|with|define|template|include|annotation|toYaml)\b)/;
const FIELD_LINE = /^\s*(?:-\s+)?["']?([A-Za-z_][\w.-]*)["']?\s*:\s*(.*?)\s*,?\s*$/;
const ACTION = /\{\{-?\s*(\w+)?[^}]*\}\}/g;
const VALUES_PATH = /\.Values((?:\.[A-Za-z_]\w*)+)/g;

export interface TemplateField {
  /** 1-based line in the text. */
  line: number;
  key: string;
  /** The value with quotes taken off. */
  value: string;
  /** For a value built from actions: the `.Values` paths it reads (`global.proxy.image`); empty for a literal. */
  valuesPaths: string[];
  /** Fields in the branches of one `if`/`else` (or `with`, `range`) share a block: one image position. */
  block: number;
}

export function isGoTemplate(text: string): boolean {
  return text.includes('\n') && GO_TEMPLATE.test(text);
}

/**
 * The fields of the text whose key `isImageKey` accepts, with the block each stands in.
 * @param isImageKey decides which keys name an image (discovery's rule, so a template and a document agree).
 */
export function templateImageFields(text: string, isImageKey: (key: string) => boolean): TemplateField[] {
  const fields: TemplateField[] = [];
  const blocks: number[] = [0];
  let nextBlock = 1;
  text.split('\n').forEach((lineText, index) => {
    const field = FIELD_LINE.exec(lineText);
    if (field !== null && isImageKey(field[1]!) && field[2] !== '' && !/^[|>]/.test(field[2]!)) {
      const value = field[2]!.replace(/^(["'])(.*)\1$/, '$2');
      const built = value.includes('{{');
      fields.push({
        line: index + 1,
        key: field[1]!,
        value,
        valuesPaths: built ? [...value.matchAll(VALUES_PATH)].map((match) => match[1]!.slice(1)) : [],
        block: blocks.at(-1)!,
      });
    }
    // Block actions on the line take effect after it: `{{- if … }}` opens the block the following lines stand in.
    for (const action of lineText.matchAll(ACTION)) {
      const word = action[1];
      if (word === 'if' || word === 'with' || word === 'range') blocks.push(nextBlock++);
      else if (word === 'end' && blocks.length > 1) blocks.pop();
    }
  });
  return fields;
}
