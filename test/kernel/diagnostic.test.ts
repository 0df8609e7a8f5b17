// One diagnostic format for every problem in a file or setting: `file:line:column: CODE path: message`.
import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../src/alerting/loader.ts';
import { errorAt, PaysignalError, schemaError, yamlSyntaxError } from '../../src/errors.ts';
import { formatDiagnostic, pathSegments, pathText } from '../../src/kernel/diagnostic.ts';
import { compileSchema } from '../../src/kernel/schema.ts';
import { parseYamlSource } from '../../src/kernel/yaml.ts';

describe('diagnostics', () => {
  it('print file, line, column, code, path and message, leaving out what does not apply', () => {
    expect(formatDiagnostic({ code: 'CONFIG_INVALID', file: 'p.yaml', line: 3, column: 7, path: 'kafka.brokers[0]', message: 'must be host:port' })).toBe(
      'p.yaml:3:7: CONFIG_INVALID kafka.brokers[0]: must be host:port',
    );
    expect(formatDiagnostic({ code: 'E_IO', file: 'rules/x.yaml', message: 'cannot read' })).toBe('rules/x.yaml: E_IO cannot read');
    expect(formatDiagnostic({ code: 'CONFIG_ENV_INVALID', path: 'KAFKA_SSL', message: 'must be true or false' })).toBe('CONFIG_ENV_INVALID KAFKA_SSL: must be true or false');
    expect(formatDiagnostic({ code: 'USAGE', message: 'explain takes PROVIDER and CODE' })).toBe('USAGE explain takes PROVIDER and CODE');
  });

  it('are the same for rule problems and PaysignalErrors', () => {
    const where = { file: 'f.yaml', line: 2, column: 5, path: 'rules[0].window', message: 'too long' };
    expect(formatProblem({ ...where, code: 'E_DURATION' })).toBe(
      new PaysignalError('CONFIG_INVALID', 'too long', { file: 'f.yaml', line: 2, column: 5, field: 'rules[0].window' }).describe().replace('CONFIG_INVALID', 'E_DURATION'),
    );
  });

  it('write paths with dots for keys and brackets for list indexes, and read them back', () => {
    expect(pathText(['rules', 0, 'baseline', 'lookback'])).toBe('rules[0].baseline.lookback');
    expect(pathSegments('rules[0].baseline.lookback')).toEqual(['rules', 0, 'baseline', 'lookback']);
    expect(pathSegments('kafka.brokers.1')).toEqual(['kafka', 'brokers', 1]);
    expect(pathSegments('')).toEqual([]);
  });
});

describe('YAML sources', () => {
  const text = 'kafka:\n  brokers:\n    - a:1\n    - b\nhttp: { port: x }\n';
  const source = parseYamlSource(text, 'p.yaml');

  it('locate a value, or its closest existing parent', () => {
    expect(source.positionOf(['kafka', 'brokers', 1])).toEqual({ line: 4, column: 7 });
    expect(source.positionOf('http.port')).toEqual({ line: 5, column: 15 });
    expect(source.positionOf('kafka.brokers[7]')).toEqual({ line: 3, column: 5 });
  });

  it('turn a schema problem into an error at its position', () => {
    const validate = compileSchema({ type: 'object', properties: { http: { type: 'object', properties: { port: { type: 'integer' } } } } });
    const problem = validate(source.data);
    expect(problem).not.toBeNull();
    expect(schemaError('CONFIG_INVALID', source, problem!).describe()).toBe('p.yaml:5:15: CONFIG_INVALID http.port: http.port must be integer');
    expect(errorAt('CATALOG_INVALID', source, ['kafka', 'brokers', 1], 'not host:port', 'kafka.brokers[1]').describe()).toBe(
      'p.yaml:4:7: CATALOG_INVALID kafka.brokers[1]: not host:port',
    );
  });

  it('report every syntax error with its position and no data', () => {
    const broken = parseYamlSource('a: [1\nb: 2\na: 3\n', 'b.yaml');
    expect(broken.data).toBeUndefined();
    expect(broken.syntaxErrors.length).toBeGreaterThanOrEqual(1);
    expect(broken.syntaxErrors[0]).toMatchObject({ line: expect.any(Number), column: expect.any(Number), message: expect.stringMatching(/^YAML syntax error: /) });
    expect(yamlSyntaxError('CONFIG_SYNTAX', broken)?.describe()).toMatch(/^b\.yaml:\d+:\d+: CONFIG_SYNTAX YAML syntax error: /);
    expect(yamlSyntaxError('CONFIG_SYNTAX', source)).toBeNull();
  });
});
