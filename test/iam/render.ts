/**
 * Renders a parsed CloudFormation template to concrete values, as
 * CloudFormation would for given parameters: conditions, Ref, Fn::Sub,
 * Fn::If, Fn::GetAtt, Fn::Select, Fn::Split, Fn::Join, Fn::FindInMap and
 * AWS::NoValue. Resources are stood in for by the physical ids and attributes
 * the caller supplies, so policies can be evaluated with real-looking ARNs.
 * Semantics follow the CloudFormation intrinsic function reference; anything
 * it does not know throws, so a new function in a template is noticed.
 */
import type { Template } from '../cfn/cfn-yaml.ts';

export interface RenderContext {
  parameters: Record<string, string>;
  accountId: string;
  region: string;
  stackName: string;
  /** Ref of each resource (physical id or ARN, as CloudFormation returns it). */
  refs: Record<string, string>;
  /** "Logical.Attribute" -> value. */
  attributes: Record<string, string>;
}

const NO_VALUE = Symbol('AWS::NoValue');

export class TemplateRenderer {
  private readonly conditions = new Map<string, boolean>();

  constructor(
    readonly template: Template,
    private readonly context: RenderContext,
  ) {
    for (const name of Object.keys(template.Parameters)) {
      if (!(name in context.parameters) && template.Parameters[name]?.Default === undefined) {
        throw new Error(`parameter ${name} has no value and no default`);
      }
    }
  }

  parameter(name: string): string {
    const given = this.context.parameters[name];
    if (given !== undefined) return given;
    return String(this.template.Parameters[name]?.Default ?? '');
  }

  condition(name: string): boolean {
    const known = this.conditions.get(name);
    if (known !== undefined) return known;
    const body = this.template.Conditions?.[name];
    if (body === undefined) throw new Error(`unknown condition ${name}`);
    const value = this.truth(body);
    this.conditions.set(name, value);
    return value;
  }

  /** Whether a resource (or output) with this Condition exists. */
  exists(entry: { Condition?: unknown }): boolean {
    return entry.Condition === undefined || this.condition(String(entry.Condition));
  }

  render(node: unknown): unknown {
    const value = this.value(node);
    return value === NO_VALUE ? undefined : value;
  }

  private truth(node: unknown): boolean {
    const record = node as Record<string, unknown>;
    const [fn] = Object.keys(record);
    const args = record[fn ?? ''] as unknown[];
    switch (fn) {
      case 'Fn::Equals':
        return String(this.value(args[0])) === String(this.value(args[1]));
      case 'Fn::Not':
        return !this.truth(args[0]);
      case 'Fn::And':
        return args.every((arg) => this.truth(arg));
      case 'Fn::Or':
        return args.some((arg) => this.truth(arg));
      case 'Condition':
        return this.condition(String(args));
      default:
        throw new Error(`unsupported condition function ${fn}`);
    }
  }

  private value(node: unknown): unknown {
    if (Array.isArray(node)) {
      return node.map((item) => this.value(item)).filter((item) => item !== NO_VALUE);
    }
    if (!node || typeof node !== 'object') return node;
    const record = node as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1) {
      const [fn] = keys as [string];
      const arg = record[fn];
      switch (fn) {
        case 'Ref':
          return this.ref(String(arg));
        case 'Fn::Sub':
          return this.sub(arg);
        case 'Fn::If': {
          const [name, whenTrue, whenFalse] = arg as [string, unknown, unknown];
          return this.value(this.condition(name) ? whenTrue : whenFalse);
        }
        case 'Fn::GetAtt': {
          const [logical, attribute] = Array.isArray(arg) ? arg : String(arg).split('.');
          return this.attribute(`${logical}.${attribute}`);
        }
        case 'Fn::Select': {
          const [index, list] = arg as [unknown, unknown];
          const items = this.value(list) as unknown[];
          const item = items[Number(this.value(index))];
          if (item === undefined) throw new Error(`Fn::Select index ${String(index)} out of range`);
          return item;
        }
        case 'Fn::Split': {
          const [separator, text] = arg as [string, unknown];
          return String(this.value(text)).split(separator);
        }
        case 'Fn::Join': {
          const [separator, list] = arg as [string, unknown];
          return (this.value(list) as unknown[]).map(String).join(separator);
        }
        case 'Fn::FindInMap': {
          const [map, top, second] = (arg as unknown[]).map((part) => this.value(part)) as string[];
          const mapping = this.template.Mappings?.[map ?? ''] as Record<string, Record<string, unknown>>;
          const found = mapping?.[top ?? '']?.[second ?? ''];
          if (found === undefined) throw new Error(`Fn::FindInMap ${map}.${top}.${second} not found`);
          return found;
        }
        case 'Fn::Base64':
          return this.value(arg);
        default:
          if (fn.startsWith('Fn::') || fn === 'Condition') throw new Error(`unsupported function ${fn}`);
      }
    }
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(record)) {
      const value = this.value(child);
      if (value !== NO_VALUE) out[key] = value;
    }
    return out;
  }

  private ref(name: string): unknown {
    switch (name) {
      case 'AWS::NoValue':
        return NO_VALUE;
      case 'AWS::AccountId':
        return this.context.accountId;
      case 'AWS::Region':
        return this.context.region;
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return this.context.stackName;
    }
    if (name in this.template.Parameters) {
      const type = String(this.template.Parameters[name]?.Type);
      const raw = this.parameter(name);
      return /^(CommaDelimitedList|List<)/.test(type) ? raw.split(',') : raw;
    }
    const ref = this.context.refs[name];
    if (ref === undefined) throw new Error(`no physical id given for Ref ${name}`);
    return ref;
  }

  private attribute(key: string): string {
    const value = this.context.attributes[key];
    if (value === undefined) throw new Error(`no value given for Fn::GetAtt ${key}`);
    return value;
  }

  private sub(arg: unknown): string {
    const [text, variables] = Array.isArray(arg)
      ? (arg as [string, Record<string, unknown>])
      : [String(arg), {}];
    const rendered = Object.fromEntries(
      Object.entries(variables ?? {}).map(([key, value]) => [key, this.value(value)]),
    );
    return text.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
      if (name in rendered) return String(rendered[name]);
      if (name.includes('.') && !name.startsWith('AWS::')) return this.attribute(name);
      const value = this.ref(name);
      if (value === NO_VALUE) throw new Error(`\${${name}} is AWS::NoValue`);
      return Array.isArray(value) ? value.join(',') : String(value);
    });
  }
}
