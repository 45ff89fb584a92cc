"""The composition root: a Config becomes drivers, a transport and an application (runner only)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from cpagent.config import Config, ConnectorConfig, endpoint_url
from cpagent.daemon.context import APPLICATIONS, AppContext
from cpagent.daemon.evse_wiring import VehicleDraw, build_evse, build_pilot_circuit
from cpagent.daemon.evse_writer import EvseWriter
from cpagent.daemon.hardware import (
    ConnectorHardware,
    ControllerContactor,
    Hardware,
    device_source,
    pin_factory,
)
from cpagent.daemon.loop import Application
from cpagent.transports.base import Transport
from hw.errors import ConfigurationError
from hw.interfaces import CardReader, CurrentLimiter, EnergyMeter, RelayOutput

if TYPE_CHECKING:
    from hw.modbus_bus import BusRegistry

log = logging.getLogger(__name__)

Post = Callable[[object], None]


def build_hardware(config: Config, post: Post) -> Hardware:
    """Build every driver; relays start de-energised. Raises hw.errors.HardwareError."""
    from hw.evse.poller import EvsePoller
    from hw.meters.poller import MeterPoller
    from hw.modbus_bus import BusRegistry
    from hw.plug import GpioPlug
    from hw.relay import GpioRelay

    name = config.gpio.pin_factory
    factory = pin_factory(config)
    hardware = Hardware(
        pin_factory=factory,
        simulated=name == "mock",
        ctl_on_real_relays=config.control.allow_ctl_with_real_relays,
        buses=BusRegistry(),
    )
    assert hardware.buses is not None
    try:
        for index, conf in enumerate(config.connectors, start=1):
            source = f"connector{index}"
            circuit = build_pilot_circuit(conf, factory)  # before the pilot that reads it
            evse = build_evse(conf, hardware.buses, factory) if conf.evse is not None else None
            writer: EvseWriter | None = None
            relay: RelayOutput
            if conf.relay_pin is not None:
                relay = GpioRelay(
                    conf.relay_pin,
                    active_high=conf.relay_active_high,
                    pin_factory=factory,
                    post=post,
                    source=device_source(index, "relay"),
                    feedback_pin=conf.relay_feedback_pin,
                    feedback_active_low=conf.relay_feedback_active_low,
                    feedback_pull=conf.relay_feedback_pull,
                )
            elif conf.evse is not None and conf.evse.driver == "pwm":
                raise ConfigurationError(
                    f"connector[{index}]: a pwm pilot switches no contactor: set relay_pin"
                )
            elif evse is not None:  # the controller switches the contactor
                writer = EvseWriter(evse, source)
                relay = ControllerContactor(evse, writer)
            else:  # the config allows no relay_pin only with [connector.evse]
                raise ConfigurationError(f"connector[{index}]: set relay_pin or [connector.evse]")
            conn = ConnectorHardware(index, conf, relay, evse=evse, pilot_circuit=circuit)
            hardware.connectors.append(conn)
            if evse is not None and conf.evse is not None:  # evse: built from conf.evse
                conn.evse_writer = writer if writer is not None else EvseWriter(evse, source)
                conn.evse_poller = EvsePoller(
                    evse, post=post, source=conn.evse_source, interval_s=conf.evse.poll_interval_s
                )
                if conf.plug_pin is not None:
                    log.warning(
                        "connector[%d]: plug_pin is not read: with [connector.evse] the "
                        "control pilot tells whether a vehicle is connected",
                        index,
                    )
            elif conf.plug_pin is not None:
                conn.plug = GpioPlug(
                    conf.plug_pin,
                    post=post,
                    source=source,
                    pin_factory=factory,
                    active_low=conf.plug_active_low,
                    pull=conf.plug_pull,
                )
            vehicle = circuit.vehicle if circuit is not None else None
            conn.meter, conn.limiter = _build_meter(conf, relay, evse, hardware.buses, vehicle)
            conn.poller = MeterPoller(
                conn.meter,
                post=post,
                source=conn.meter_source,
                interval_s=conf.meter.poll_interval_s,
            )
        hardware.reader = _build_reader(config, post)
    except BaseException:
        hardware.close()
        raise
    return hardware


def _build_meter(
    conf: ConnectorConfig,
    relay: RelayOutput,
    evse: object,
    buses: BusRegistry,
    vehicle: object = None,
) -> tuple[EnergyMeter, CurrentLimiter | None]:
    """The meter, and for a simulated one what caps its EV's draw: the simulated vehicle
    behind a simulated EVSE or a mock-pin pwm pilot (`vehicle`; it draws what the pilot
    offers, never more), else a simulated current limiter (smart-charging limits). A real
    meter takes its port's shared bus.
    """
    if conf.meter.driver == "sim":
        from hw.evse.sim import SimEvse
        from hw.meters.sim import SimMeter
        from hw.sim import SimCurrentLimiter

        phases, most = conf.meter.phases, conf.max_current_a
        if isinstance(evse, SimEvse):
            draw = VehicleDraw(evse.vehicle)
            return SimMeter(None, limiter=draw, phases=phases, max_current_a=most), None
        if vehicle is not None:  # the pwm pilot's EV, behind the connector's own relay
            return SimMeter(
                relay, limiter=VehicleDraw(vehicle), phases=phases, max_current_a=most
            ), None
        limiter = SimCurrentLimiter()
        return SimMeter(relay, limiter=limiter, phases=phases, max_current_a=most), limiter
    from hw.meters.sdm import SdmMeter
    from hw.modbus_bus import BusSettings

    assert conf.meter.port is not None  # config guarantees a port for real meters
    bus = buses.bus(conf.meter.port, settings=BusSettings(conf.meter.baudrate))
    meter = SdmMeter(
        conf.meter.driver,
        conf.meter.port,
        unit=conf.meter.unit,
        baudrate=conf.meter.baudrate,
        bus=bus,
    )
    return meter, None


def _build_reader(config: Config, post: Post) -> CardReader | None:
    if config.rfid.driver == "none":
        return None
    if config.rfid.driver == "sim":
        from hw.rfid.sim import SimCardReader

        return SimCardReader(post=post, source="rfid")
    assert config.rfid.port is not None  # config guarantees a port for rdm6300 and pn532
    if config.rfid.driver == "pn532":
        from hw.rfid.pn532 import Pn532Reader

        return Pn532Reader(
            config.rfid.port, post=post, source="rfid", baudrate=config.rfid.baudrate or 115200
        )
    from hw.rfid.rdm6300 import Rdm6300Reader

    return Rdm6300Reader(config.rfid.port, post=post, source="rfid")


def build_transport(config: Config, post: Post) -> Transport:
    """Build the configured transport (not started); refused settings raise ConfigurationError."""
    try:
        if config.csms.transport == "mqtt":
            return _mqtt(config, post)
        return _websocket(config, post)
    except ValueError as exc:  # settings the transport refuses: a configuration problem
        raise ConfigurationError(f"csms: {exc}") from exc


def _websocket(config: Config, post: Post) -> Transport:
    from cpagent.transports.backoff import BackoffPolicy
    from cpagent.transports.websocket import WebSocketTransport

    csms = config.csms
    assert csms.url is not None  # the config requires a url for the websocket transport
    log.info("CSMS endpoint %s", endpoint_url(csms.url, config.chargepoint.id))
    return WebSocketTransport(
        csms.url,
        config.chargepoint.id,
        post,
        subprotocol=csms.protocol,
        security_profile=_security_profile(config),
        password=csms.password,
        ca_file=_str(csms.ca_file),
        cert_file=_str(csms.cert_file),
        key_file=_str(csms.key_file),
        ping_interval_s=csms.ping_interval_s,  # the app applies a stored WebSocketPingInterval
        pong_timeout_s=csms.pong_timeout_s,
        max_frame_bytes=csms.max_frame_bytes,
        await_owner=True,  # the owner loop sets TransportDown.taken
        backoff=BackoffPolicy(initial_s=csms.backoff_min_s, max_s=csms.backoff_max_s),
    )


def _mqtt(config: Config, post: Post) -> Transport:
    from cpagent.transports.mqtt import PACKET_OVERHEAD, BrokerLogin, MqttTransport

    csms, mqtt = config.csms, config.mqtt
    assert mqtt is not None  # the config requires [mqtt] for the mqtt transport
    log.info(
        "CSMS over MQTT broker %s:%d, topic prefix %s", mqtt.host, mqtt.port, mqtt.topic_prefix
    )
    return MqttTransport(
        mqtt.host,
        mqtt.port,
        config.chargepoint.id,
        post,
        subprotocol=csms.protocol,
        topic_prefix=mqtt.topic_prefix,
        login=BrokerLogin(
            username=mqtt.username,
            password=mqtt.password,
            tls=mqtt.tls,
            ca_file=_str(mqtt.ca_file or csms.ca_file),
            cert_file=_str(mqtt.cert_file or csms.cert_file),
            key_file=_str(mqtt.key_file if mqtt.cert_file else csms.key_file),
        ),
        keepalive_s=max(1, round(csms.ping_interval_s)),
        max_packet_bytes=csms.max_frame_bytes + PACKET_OVERHEAD,
        reconnect_min_s=max(1, round(csms.backoff_min_s)),
        reconnect_max_s=max(1, round(csms.backoff_max_s)),
    )


def build_application(ctx: AppContext, name: str = "chargepoint") -> Application:
    """The application the owner loop drives: the OCPP 1.6 chargepoint, or the bench one.

    The bench application never closes a relay and ignores the CSMS: for bringing up
    hardware. Both take the same AppContext (docs/foundation.md, "Daemon architecture").
    """
    if name == "bench":
        from cpagent.daemon.bench_app import BenchApplication

        return BenchApplication(ctx)
    if name != "chargepoint":
        raise ValueError(f"unknown application {name!r}; expected one of {APPLICATIONS}")
    from cpagent.daemon.ocpp_app import ChargepointApplication

    return ChargepointApplication(ctx)


def _security_profile(config: Config) -> int:
    """OCPP 1.6 security whitepaper profiles: 0 none, 1 Basic/ws, 2 Basic/TLS, 3 client cert."""
    csms = config.csms
    if csms.cert_file is not None:
        return 3
    if csms.password is not None:
        return 2 if (csms.url or "").startswith("wss://") else 1
    return 0


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)
