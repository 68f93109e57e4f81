import { describe, expect, it } from 'vitest';
import {
  fieldMatcher,
  fieldValue,
  labelKeyProblem,
  labelMatcher,
  labelValueProblem,
  parseFieldSelector,
  parseLabelSelector,
} from '../../../src/store/selectors.js';
import { SelectorError } from '../../../src/store/types.js';

describe('parseLabelSelector', () => {
  it.each([
    ['', []],
    ['   ', []],
    ['app=web', [{ key: 'app', operator: '=', values: ['web'] }]],
    ['app == web', [{ key: 'app', operator: '=', values: ['web'] }]],
    ['app!=web', [{ key: 'app', operator: '!=', values: ['web'] }]],
    ['app=', [{ key: 'app', operator: '=', values: [''] }]],
    ['tier in (a, b,c)', [{ key: 'tier', operator: 'in', values: ['a', 'b', 'c'] }]],
    ['tier notin (a)', [{ key: 'tier', operator: 'notin', values: ['a'] }]],
    ['tier in (a,)', [{ key: 'tier', operator: 'in', values: ['a', ''] }]],
    ['app', [{ key: 'app', operator: 'exists', values: [] }]],
    ['!app', [{ key: 'app', operator: '!exists', values: [] }]],
    ['! app', [{ key: 'app', operator: '!exists', values: [] }]],
    [
      'example.com/app=web,!legacy,env in (prod)',
      [
        { key: 'example.com/app', operator: '=', values: ['web'] },
        { key: 'legacy', operator: '!exists', values: [] },
        { key: 'env', operator: 'in', values: ['prod'] },
      ],
    ],
    ['a.b_c-d=V.1_x-y', [{ key: 'a.b_c-d', operator: '=', values: ['V.1_x-y'] }]],
  ])('parses %j', (input, expected) => {
    expect(parseLabelSelector(input)).toEqual(expected);
  });

  it.each([
    ['app in web', "expected '(' after 'in'"],
    ['app in (web', "expected ',' or ')'"],
    ['app notin ()', 'must not be empty'],
    ['=web', 'expected a label key, found "="'],
    ['app=web,', "expected a requirement after ','"],
    [',app', 'expected a label key, found ","'],
    ['app web', 'expected an operator'],
    ['app=a=b', "expected ',' or end of selector"],
    ['!app=web', "'!app' takes no operator"],
    ['app>1', "operator '>'"],
    ['app<1', "operator '<'"],
    ['/app=x', 'prefix part must not be empty'],
    ['Example.com/app=x', 'prefix part must be a lowercase DNS subdomain'],
    ['example.com/=x', 'name part must not be empty'],
    [`${'a'.repeat(64)}=x`, 'no more than 63 characters'],
    [`${'a'.repeat(254)}/b=x`, 'no more than 253 characters'],
    ['app_=x', 'starting and ending with an alphanumeric'],
    ['app=x_', 'invalid value "x_"'],
    [`app=${'v'.repeat(64)}`, 'no more than 63 characters'],
    ['app in (a,b c)', "expected ',' or ')'"],
  ])('rejects %j with a message containing %j', (input, fragment) => {
    let err: unknown;
    try {
      parseLabelSelector(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SelectorError);
    expect((err as Error).message).toContain(fragment);
    expect((err as Error).message).toContain(`"${input}"`);
  });
});

describe('labelMatcher', () => {
  const labels = { app: 'web', tier: 'front', empty: '' };
  it.each([
    ['', true],
    ['app=web', true],
    ['app=db', false],
    ['app!=db', true],
    ['missing!=x', true],
    ['missing=x', false],
    ['empty=', true],
    ['missing=', false],
    ['app in (db,web)', true],
    ['app in (db)', false],
    ['missing in (x)', false],
    ['app notin (db)', true],
    ['app notin (web)', false],
    ['missing notin (x)', true],
    ['app', true],
    ['missing', false],
    ['!missing', true],
    ['!app', false],
    ['app=web,tier=front', true],
    ['app=web,tier=back', false],
  ])('%j matches %j', (selector, expected) => {
    expect(labelMatcher(selector)(labels)).toBe(expected);
  });

  it('treats absent labels as an empty set', () => {
    expect(labelMatcher('!app')(undefined)).toBe(true);
    expect(labelMatcher('app')(undefined)).toBe(false);
    expect(labelMatcher(undefined)(undefined)).toBe(true);
  });

  it('does not see inherited properties as labels', () => {
    expect(labelMatcher('constructor')({})).toBe(false);
    expect(labelMatcher('toString')({})).toBe(false);
  });
});

describe('label key and value checks', () => {
  it('accepts Kubernetes-style keys and values', () => {
    expect(labelKeyProblem('app.kubernetes.io/name')).toBeUndefined();
    expect(labelKeyProblem('A_b.c-D')).toBeUndefined();
    expect(labelValueProblem('')).toBeUndefined();
    expect(labelValueProblem('v1.2_3-x')).toBeUndefined();
  });
  it('explains what is wrong', () => {
    expect(labelKeyProblem('a/b/c')).toMatch(/name part/);
    expect(labelValueProblem('-x')).toMatch(/alphanumeric/);
  });
});

describe('parseFieldSelector', () => {
  it.each([
    ['', []],
    ['metadata.name=web', [{ key: 'metadata.name', operator: '=', values: ['web'] }]],
    ['metadata.name==web', [{ key: 'metadata.name', operator: '=', values: ['web'] }]],
    ['spec.nodeName!=n1', [{ key: 'spec.nodeName', operator: '!=', values: ['n1'] }]],
    ['spec.nodeName=', [{ key: 'spec.nodeName', operator: '=', values: [''] }]],
    [
      'metadata.namespace=a, status.phase!=Running',
      [
        { key: 'metadata.namespace', operator: '=', values: ['a'] },
        { key: 'status.phase', operator: '!=', values: ['Running'] },
      ],
    ],
    ['spec.x=a\\,b\\=c\\\\d', [{ key: 'spec.x', operator: '=', values: ['a,b=c\\d'] }]],
  ])('parses %j', (input, expected) => {
    expect(parseFieldSelector(input)).toEqual(expected);
  });

  it.each([
    ['metadata.name', 'has no operator'],
    ['=web', 'has no field path'],
    ['metadata..name=x', 'field path "metadata..name"'],
    ['metadata.name=x,', 'empty requirement'],
    ['a=1,,b=2', 'empty requirement'],
    ['spec.x=a\\nb', 'invalid escape sequence'],
    ['spec x=1', 'field path "spec x"'],
  ])('rejects %j with a message containing %j', (input, fragment) => {
    expect(() => parseFieldSelector(input)).toThrow(SelectorError);
    expect(() => parseFieldSelector(input)).toThrow(fragment);
  });
});

describe('fieldMatcher', () => {
  const obj = {
    metadata: { name: 'web', namespace: 'prod' },
    spec: { nodeName: 'n1', replicas: 3, paused: false, ports: [80] },
  };
  it.each([
    ['metadata.name=web', true],
    ['metadata.name=db', false],
    ['metadata.name!=db', true],
    ['spec.nodeName=n1,metadata.namespace=prod', true],
    ['spec.nodeName=n1,metadata.namespace=dev', false],
    ['spec.replicas=3', true],
    ['spec.paused=false', true],
    ['spec.missing=', true],
    ['spec.missing!=', false],
    ['spec.nodeName.deeper=', true],
    ['spec.ports=[80]', true],
  ])('%j matches %j', (selector, expected) => {
    expect(fieldMatcher(selector)(obj)).toBe(expected);
  });

  it('reads absent paths as empty strings', () => {
    expect(fieldValue({}, 'a.b.c')).toBe('');
    expect(fieldValue({ a: null }, 'a')).toBe('');
    expect(fieldValue(null, 'a')).toBe('');
  });
});
