/**
 * The GraphQL-over-HTTP conformance audits of graphql-http (`serverAudits`), every one of them, against the gateway
 * as it is configured for production: CSRF prevention, body limit, request limits and masked errors on.
 */
import { serverAudits } from 'graphql-http';
import { generateSyntheticCorpus } from '../../src/dataset/synthetic';
import { startTestGateway, type TestGateway } from '../helpers/gateway';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ corpus: generateSyntheticCorpus({ posts: 2000, seed: 5 }), backend: 'embedded' });
});

afterAll(async () => {
  await gw?.close();
});

const audits = serverAudits({ url: () => gw.url, fetchFn: fetch });

test('graphql-http lists its audits', () => {
  expect(audits.length).toBeGreaterThanOrEqual(50);
});

for (const audit of audits) {
  test(`${audit.name}`, async () => {
    const result = await audit.fn();
    if (result.status !== 'ok') {
      throw new Error(`${result.status}: ${result.reason}${'response' in result && result.response ? ` (HTTP ${result.response.status})` : ''}`);
    }
  });
}
