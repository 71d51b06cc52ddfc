import { loadConfig } from '../../src/config';
import { BoundedLabel } from '../../src/telemetry/metrics';

describe('telemetry and shutdown configuration', () => {
  test('defaults: no export, the service name, parent-based sampling, a 10 s grace', () => {
    expect(loadConfig({})).toMatchObject({
      otlpTracesUrl: null,
      serviceName: 'ranking-gateway',
      tracesSampler: { kind: 'parentbased_always_on', ratio: 1 },
      shutdownGraceMs: 10_000,
    });
  });

  test('OTEL_EXPORTER_OTLP_ENDPOINT is a base URL; the traces endpoint is used as given and wins', () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).otlpTracesUrl).toBe('http://collector:4318/v1/traces');
    expect(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/otlp' }).otlpTracesUrl,
    ).toBe('https://traces.example/otlp');
  });

  test.each([
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, /OTEL_EXPORTER_OTLP_ENDPOINT must be an http/],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://x' }, /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be an http/],
    [{ OTEL_TRACES_SAMPLER: 'jaeger_remote' }, /OTEL_TRACES_SAMPLER must be one of/],
    [{ OTEL_TRACES_SAMPLER_ARG: '2' }, /OTEL_TRACES_SAMPLER_ARG must be between 0 and 1/],
    [{ SHUTDOWN_GRACE_MS: '-1' }, /SHUTDOWN_GRACE_MS must be at least 0/],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});

test('a bounded label keeps its first values and turns later ones into "other"', () => {
  const label = new BoundedLabel(2);
  expect(['a', 'b', 'c', 'a', 'd', 'b'].map((v) => label.value(v))).toEqual(['a', 'b', 'other', 'a', 'other', 'b']);
});
