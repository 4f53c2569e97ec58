"""Synthetic data sets shaped like the seed's: AI4I, NASA and XJTU bearings, MIMII, sensors.

Every generator takes a ``numpy.random.Generator`` so a build is repeatable. The shapes
follow the public data sets' documentation (column names, units, failure rules), but
the numbers are simulated here: no download, no real data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

AI4I_PROCESS_COLUMNS = (
    "air_temperature_k",
    "process_temperature_k",
    "rotational_speed_rpm",
    "torque_nm",
    "tool_wear_min",
    "type_l",
    "type_m",
    "type_h",
)
AI4I_ENGINEERED_COLUMNS = ("temperature_delta_k", "power_w", "strain_min_nm")


@dataclass(frozen=True)
class Labelled:
    """A feature table and its labels (1 = failure / anomaly / abnormal)."""

    features: pd.DataFrame
    labels: np.ndarray


def ai4i_process_data(rng: np.random.Generator, *, rows: int = 2400) -> Labelled:
    """Machine-failure data following the AI4I 2020 rules (TWF, HDF, PWF, OSF, RNF)."""
    product_type = rng.choice(["L", "M", "H"], size=rows, p=[0.5, 0.3, 0.2])
    air = 300 + rng.normal(0, 2, rows)
    process = air + 10 + rng.normal(0, 1, rows)
    torque = rng.normal(40, 10, rows).clip(3.8, 76.6)
    # Speed and torque are anti-correlated in AI4I (the drive holds power near 6 kW).
    speed = (6000 * 60 / (2 * np.pi * torque) * rng.normal(1, 0.12, rows)).clip(1168, 2886)
    wear = rng.integers(0, 254, rows)
    power = torque * speed * 2 * np.pi / 60
    strain_limit = np.select([product_type == "H", product_type == "M"], [13000, 12000], 11000)
    failure = (
        ((wear >= 200) & (wear <= 240) & (rng.random(rows) < 0.1))
        | (((process - air) < 8.6) & (speed < 1380))
        | (power < 3500)
        | (power > 9000)
        | (wear * torque > strain_limit)
        | (rng.random(rows) < 0.001)
    ).astype(int)
    frame = pd.DataFrame(
        {
            "air_temperature_k": air.round(1),
            "process_temperature_k": process.round(1),
            "rotational_speed_rpm": speed.round(0),
            "torque_nm": torque.round(1),
            "tool_wear_min": wear.astype(float),
            "type_l": (product_type == "L").astype(float),
            "type_m": (product_type == "M").astype(float),
            "type_h": (product_type == "H").astype(float),
        }
    )
    return Labelled(features=frame, labels=failure)


def ai4i_engineered(frame: pd.DataFrame) -> pd.DataFrame:
    """The engineered feature set: the process columns plus the physics behind failures."""
    out = frame.copy()
    out["temperature_delta_k"] = out.process_temperature_k - out.air_temperature_k
    out["power_w"] = out.torque_nm * out.rotational_speed_rpm * 2 * np.pi / 60
    out["strain_min_nm"] = out.tool_wear_min * out.torque_nm
    return out


def vibration_snapshots(
    rng: np.random.Generator,
    *,
    snapshots: int,
    channels: tuple[str, ...],
    sample_rate_hz: int,
    samples: int = 2048,
    fault_hz: float,
    onset: float = 0.7,
) -> Labelled:
    """Run-to-failure bearing vibration, summarised per snapshot as time/frequency features.

    Each snapshot is a simulated accelerometer window per channel: shaft harmonics and
    noise, plus, after ``onset`` of the life, growing impacts at the bearing's fault
    frequency. Labels mark the degraded snapshots.
    """
    t = np.arange(samples) / sample_rate_hz
    rows = []
    life = np.linspace(0, 1, snapshots)
    for position in life:
        degradation = max(0.0, (position - onset) / (1 - onset)) ** 2
        row = {}
        for channel in channels:
            signal = 0.5 * np.sin(2 * np.pi * 33.3 * t) + rng.normal(0, 0.3, samples)
            impacts = (np.sin(2 * np.pi * fault_hz * t) > 0.995).astype(float)
            signal += degradation * 4 * impacts * rng.normal(1, 0.2, samples)
            signal += degradation * rng.normal(0, 0.6, samples)
            row.update(_vibration_features(signal, channel, sample_rate_hz, fault_hz))
        rows.append(row)
    labels = (life > onset + 0.05).astype(int)
    return Labelled(features=pd.DataFrame(rows), labels=labels)


def _vibration_features(signal: np.ndarray, channel: str, rate: int, fault_hz: float) -> dict:
    rms = float(np.sqrt(np.mean(signal**2)))
    centred = signal - signal.mean()
    std = float(centred.std())
    spectrum = np.abs(np.fft.rfft(signal))
    freqs = np.fft.rfftfreq(signal.size, 1 / rate)
    band = (freqs > fault_hz * 0.9) & (freqs < fault_hz * 1.1)
    return {
        f"{channel}_rms": rms,
        f"{channel}_peak": float(np.abs(signal).max()),
        f"{channel}_crest_factor": float(np.abs(signal).max() / rms),
        f"{channel}_kurtosis": float(np.mean(centred**4) / std**4),
        f"{channel}_skewness": float(np.mean(centred**3) / std**3),
        f"{channel}_fault_band_energy": float(spectrum[band].sum() / spectrum.sum()),
    }


def mimii_audio_features(
    rng: np.random.Generator, *, clips: int = 360, bands: int = 16, rate: int = 16000
) -> Labelled:
    """Log band energies (16 log-spaced bands) of simulated pump sounds, normal and abnormal."""
    samples = rate // 4
    t = np.arange(samples) / rate
    edges = np.geomspace(50, rate / 2, bands + 1)
    freqs = np.fft.rfftfreq(samples, 1 / rate)
    labels = (rng.random(clips) < 0.3).astype(int)
    rows = []
    for abnormal in labels:
        hum = sum(np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 6))
        sound = hum + rng.normal(0, 0.8, samples)
        if abnormal:
            sound += 0.6 * np.sin(2 * np.pi * rng.uniform(2500, 4000) * t)
            sound += (rng.random(samples) < 0.002) * rng.normal(0, 6, samples)
        power = np.abs(np.fft.rfft(sound)) ** 2
        energies = [power[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in band_pairs(edges)]
        rows.append(
            {f"log_band_{i:02d}": float(np.log10(e + 1e-9)) for i, e in enumerate(energies)}
        )
    return Labelled(features=pd.DataFrame(rows), labels=labels)


def band_pairs(edges: np.ndarray) -> list[tuple[float, float]]:
    """Consecutive (low, high) band edges."""
    return list(zip(edges[:-1], edges[1:], strict=True))


def sensor_readings(
    rng: np.random.Generator, *, hours: int = 24 * 60, anomaly_share: float = 0.0
) -> pd.DataFrame:
    """Hourly readings of one machine's sensors (sensor-001 ...), with optional anomalies.

    Temperature carries the trend and the daily and weekly cycles the forecasters model;
    ``is_anomaly`` marks injected faults (spikes, drifts, stuck readings).
    """
    hour = np.arange(hours)
    temperature = (
        65
        + 0.002 * hour
        + 3 * np.sin(2 * np.pi * hour / 24)
        + 1.5 * np.sin(2 * np.pi * hour / (24 * 7))
        + rng.normal(0, 0.6, hours)
    )
    vibration = 2.0 + 0.3 * np.sin(2 * np.pi * hour / 24) + rng.normal(0, 0.15, hours)
    pressure = 101.3 + rng.normal(0, 0.4, hours)
    humidity = 45 + 5 * np.sin(2 * np.pi * hour / 24 + 1) + rng.normal(0, 1.5, hours)
    is_anomaly = np.zeros(hours, dtype=int)
    if anomaly_share:
        picked = rng.choice(hours, size=int(hours * anomaly_share), replace=False)
        is_anomaly[picked] = 1
        temperature[picked] += rng.choice([-1, 1], picked.size) * rng.uniform(8, 15, picked.size)
        vibration[picked] *= rng.uniform(2.0, 3.5, picked.size)
        pressure[picked] += rng.normal(0, 3, picked.size)
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2025-07-01", periods=hours, freq="h"),
            "temperature_c": temperature,
            "vibration_mm_s": vibration,
            "pressure_kpa": pressure,
            "humidity_pct": humidity,
            "is_anomaly": is_anomaly,
        }
    )
