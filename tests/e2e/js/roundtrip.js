// kafkajs against a Strait broker: admin, an idempotent producer and a
// consumer group. Prints one JSON line with what each client saw; the
// Python test (tests/e2e/test_kafkajs.py) checks it.
// Usage: node roundtrip.js BROKER TOPIC GROUP COUNT
const { Kafka, logLevel } = require('kafkajs');

async function main() {
  const [broker, topic, groupId, countText] = process.argv.slice(2);
  const count = Number(countText);
  const kafka = new Kafka({ clientId: 'strait-e2e-kafkajs', brokers: [broker], logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  const created = await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const produced = [];
  for (let i = 0; i < count; i += 10) {
    const messages = [];
    for (let j = i; j < Math.min(i + 10, count); j++) {
      messages.push({ key: `k${j}`, value: `v${j}`, partition: j % 2 });
    }
    const meta = await producer.send({ topic, messages, acks: -1 });
    produced.push(...meta.map(m => ({ partition: m.partition, baseOffset: Number(m.baseOffset) })));
  }
  const consumer = kafka.consumer({ groupId, rebalanceTimeout: 10000, sessionTimeout: 10000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const consumed = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`consumed only ${consumed.length} of ${count}`)), 30000);
    consumer.run({
      eachMessage: async ({ partition, message }) => {
        consumed.push({ partition, offset: Number(message.offset), key: message.key.toString(), value: message.value.toString() });
        if (consumed.length === count) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  await producer.disconnect();
  const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
  const described = await admin.fetchTopicMetadata({ topics: [topic] });
  await admin.disconnect();
  console.log(JSON.stringify({
    created,
    produced,
    consumed,
    committed: committed[0].partitions.map(p => ({ partition: p.partition, offset: Number(p.offset) })),
    partitions: described.topics[0].partitions.length,
  }));
}

main().catch(e => {
  console.error(`kafkajs failed: ${e.stack || e}`);
  process.exit(1);
});
