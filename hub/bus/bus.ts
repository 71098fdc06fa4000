import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { CHANNEL_DELIVERY, HUB_IDENTITY, agentTopic, encode, hubSubscriptions, parseTopic, type AgentAddress, type HubChannel, type ParsedTopic } from '../../protocol/index.js';

export type MessageHandler = (topic: ParsedTopic, payload: Buffer) => void;

/**
 * The hub's MQTT client. The same code runs against the embedded broker and
 * an external one (MQTT_URL). MQTT 3.1.1, so that any campus broker works;
 * everything the protocol needs travels in payloads.
 */
export interface HubBus {
  connected(): boolean;
  /** Starts taking agents' messages; until then the hub only publishes. Resubscribes on every reconnect. */
  subscribe(onMessage: MessageHandler, onUnroutable: (topic: string) => void): Promise<void>;
  publishToAgent(address: AgentAddress, channel: HubChannel, message: unknown): Promise<void>;
  close(): Promise<void>;
}

/** The hub's client certificate for an mqtts:// broker. */
export interface BusTls {
  keyPem: string;
  certificatePem: string;
  caCertificatePem: string;
}

export async function connectHubBus(url: string, logger: Logger, tls?: BusTls): Promise<HubBus> {
  const log = logger.child({ ns: 'hub:bus' });
  const client: MqttClient = await mqtt.connectAsync(url, {
    ...(tls ? { key: tls.keyPem, cert: tls.certificatePem, ca: tls.caCertificatePem, rejectUnauthorized: true } : {}),
    protocolVersion: 4,
    clientId: `${HUB_IDENTITY}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
  });
  client.on('error', (error) => log.warn({ err: error.message }, 'broker connection error'));
  client.on('reconnect', () => log.info('reconnecting to broker'));
  client.on('offline', () => log.warn('broker connection lost'));
  log.info({ url: redactUrl(url) }, 'connected to broker');
  return {
    connected: () => client.connected,
    async subscribe(onMessage, onUnroutable) {
      client.on('message', (topic, payload) => {
        const parsed = parseTopic(topic);
        if (parsed) onMessage(parsed, payload);
        else onUnroutable(topic);
      });
      const subscribeAll = () => client.subscribeAsync(hubSubscriptions(), { qos: 1 });
      await subscribeAll();
      // A clean session forgets subscriptions, so every reconnect subscribes again.
      client.on('connect', (connack) => {
        if (!connack.sessionPresent) subscribeAll().catch((error: Error) => log.error({ err: error.message }, 'subscribe failed'));
      });
    },
    async publishToAgent(address, channel, message) {
      const { qos, retain } = CHANNEL_DELIVERY[channel];
      await client.publishAsync(agentTopic(address, channel), encode(message), { qos, retain });
    },
    async close() {
      await client.endAsync();
    },
  };
}

/** Broker URLs may carry credentials; logs get the URL without them. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
