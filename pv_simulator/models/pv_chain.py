"""Physical PV chain as pure functions on plain floats (standard library only).

One function per physical step, in the order the simulator applies them: sun position (NREL SPA),
extraterrestrial irradiance, air mass, Ineichen-Perez clear sky, Erbs split under clouds, Perez
transposition, physical incidence angle modifier, SAPM cell temperature, PVWatts DC and the PVWatts
inverter, then the inverter's own temperature from its losses. The equations follow the pvlib-python
0.16.1 implementations so the chain can be checked against pvlib-made fixtures in tests/data, but
pvlib is never imported: the simulator must run with the standard library only. Angles are
degrees, irradiance W/m2, power W, temperatures deg C.
"""

import math
from typing import NamedTuple

_PeriodicSeries = tuple[tuple[tuple[float, float, float], ...], ...]

DEFAULT_DELTA_T_S = 69.0
"""TT - UT1 in seconds (IERS, about 69 s for 2020-2030); it shifts only the sun's ecliptic position,
so a few seconds of error move the sun by less than 0.0001 deg."""

SOLAR_CONSTANT_W_M2 = 1366.1
"""Solar constant used by Spencer's extraterrestrial irradiance (pvlib default)."""

STANDARD_PRESSURE_PA = 101325.0

SPA_ATMOSPHERIC_REFRACTION_DEG = 0.5667
"""Refraction at sunrise/sunset assumed by SPA (Reda & Andreas 2004)."""

SUN_RADIUS_DEG = 0.26667
"""Apparent solar radius used by SPA to decide whether refraction applies."""

EARTH_EQUATORIAL_RADIUS_M = 6378140.0
EARTH_FLATTENING_FACTOR = 0.99664719

SAPM_CLOSE_MOUNT_GLASS_GLASS = (-2.98, -0.0471, 1.0)
"""King et al. (2004) SAPM thermal coefficients (a, b, delta_T in deg C) for glass/glass modules
mounted close to a roof, the usual case for residential rooftop plants."""

PVWATTS_ETA_INV_NOMINAL = 0.96
PVWATTS_ETA_INV_REFERENCE = 0.9637

INVERTER_RISE_AT_RATED_K = 30.0
"""How far a string inverter's heat sink runs above the air at rated output, K: 25 deg C air gives
55 deg C, so full power derates from about 40-45 deg C air, where makers' derating curves start
(e.g. SMA's technical information "Temperature derating"). An assumption, not a fitted value."""

INVERTER_TIME_CONSTANT_S = 600.0
"""The heat sink's thermal time constant, s: an aluminium heat sink of a few kilograms follows
its losses within tens of minutes. An assumption, not a fitted value."""


class GeocentricSun(NamedTuple):
    """Apparent geocentric position of the sun, the slowly varying part of SPA."""

    right_ascension_deg: float
    declination_deg: float
    equation_of_equinoxes_deg: float
    earth_radius_au: float


class SolarPosition(NamedTuple):
    """Topocentric sun position; azimuth clockwise from north."""

    apparent_zenith_deg: float
    zenith_deg: float
    azimuth_deg: float


class SkyIrradiance(NamedTuple):
    """Global horizontal, direct normal and diffuse horizontal irradiance."""

    ghi_w_m2: float
    dni_w_m2: float
    dhi_w_m2: float


class BeamDiffuseSplit(NamedTuple):
    """Direct normal and diffuse horizontal irradiance that together make up a GHI."""

    dni_w_m2: float
    dhi_w_m2: float


def julian_day(time_s: float) -> float:
    """Julian day (UT) of a Unix epoch time; the time scale of SPA (Reda & Andreas 2004)."""
    return time_s / 86400.0 + 2440587.5


def _periodic_series(series: _PeriodicSeries, jme: float) -> float:
    """Evaluate one of SPA's Earth periodic term series (L, B or R), in rad or au."""
    total = 0.0
    power = 1.0
    for terms in series:
        partial = 0.0
        for amplitude, phase, frequency in terms:
            partial += amplitude * math.cos(phase + frequency * jme)
        total += partial * power
        power *= jme
    return total / 1e8


def spa_geocentric_sun(time_s: float, delta_t_s: float = DEFAULT_DELTA_T_S) -> GeocentricSun:
    """Geocentric apparent right ascension and declination of the sun.

    NREL Solar Position Algorithm, I. Reda and A. Andreas, "Solar position algorithm for solar
    radiation applications", Solar Energy 76 (2004) 577-589, up to the geocentric sun
    (uncertainty +-0.0003 deg). This is the expensive part (about 300 periodic terms) and changes
    slowly, so callers may evaluate it a few times a day and use `interpolate_geocentric_sun`.
    """
    jde = julian_day(time_s) + delta_t_s / 86400.0
    jce = (jde - 2451545.0) / 36525.0
    jme = jce / 10.0
    heliocentric_longitude_deg = math.degrees(_periodic_series(_EARTH_L, jme)) % 360.0
    heliocentric_latitude_deg = math.degrees(_periodic_series(_EARTH_B, jme))
    earth_radius_au = _periodic_series(_EARTH_R, jme)
    geocentric_longitude_deg = (heliocentric_longitude_deg + 180.0) % 360.0
    geocentric_latitude_deg = -heliocentric_latitude_deg

    mean_elongation_moon_deg = (297.85036 + 445267.111480 * jce - 0.0019142 * jce**2
                                + jce**3 / 189474.0)
    mean_anomaly_sun_deg = 357.52772 + 35999.050340 * jce - 0.0001603 * jce**2 - jce**3 / 300000.0
    mean_anomaly_moon_deg = (134.96298 + 477198.867398 * jce + 0.0086972 * jce**2
                             + jce**3 / 56250.0)
    moon_argument_latitude_deg = (93.27191 + 483202.017538 * jce - 0.0036825 * jce**2
                                  + jce**3 / 327270.0)
    moon_ascending_node_deg = (125.04452 - 1934.136261 * jce + 0.0020708 * jce**2
                               + jce**3 / 450000.0)
    arguments = (mean_elongation_moon_deg, mean_anomaly_sun_deg, mean_anomaly_moon_deg,
                 moon_argument_latitude_deg, moon_ascending_node_deg)
    nutation_longitude = 0.0
    nutation_obliquity = 0.0
    for y0, y1, y2, y3, y4, a, b, c, d in _NUTATION:
        argument_rad = math.radians(y0 * arguments[0] + y1 * arguments[1] + y2 * arguments[2]
                                    + y3 * arguments[3] + y4 * arguments[4])
        nutation_longitude += (a + b * jce) * math.sin(argument_rad)
        nutation_obliquity += (c + d * jce) * math.cos(argument_rad)
    nutation_longitude_deg = nutation_longitude / 36000000.0
    nutation_obliquity_deg = nutation_obliquity / 36000000.0

    u = jme / 10.0
    mean_obliquity_arcsec = (84381.448 - 4680.93 * u - 1.55 * u**2 + 1999.25 * u**3
                             - 51.38 * u**4 - 249.67 * u**5 - 39.05 * u**6 + 7.12 * u**7
                             + 27.87 * u**8 + 5.79 * u**9 + 2.45 * u**10)
    obliquity_rad = math.radians(mean_obliquity_arcsec / 3600.0 + nutation_obliquity_deg)
    aberration_deg = -20.4898 / (3600.0 * earth_radius_au)
    apparent_longitude_rad = math.radians(geocentric_longitude_deg + nutation_longitude_deg
                                          + aberration_deg)
    latitude_rad = math.radians(geocentric_latitude_deg)
    right_ascension_deg = math.degrees(math.atan2(
        math.sin(apparent_longitude_rad) * math.cos(obliquity_rad)
        - math.tan(latitude_rad) * math.sin(obliquity_rad),
        math.cos(apparent_longitude_rad))) % 360.0
    declination_deg = math.degrees(math.asin(
        math.sin(latitude_rad) * math.cos(obliquity_rad)
        + math.cos(latitude_rad) * math.sin(obliquity_rad) * math.sin(apparent_longitude_rad)))
    return GeocentricSun(right_ascension_deg, declination_deg,
                         nutation_longitude_deg * math.cos(obliquity_rad), earth_radius_au)


def interpolate_geocentric_sun(start: GeocentricSun, middle: GeocentricSun, end: GeocentricSun,
                               fraction: float) -> GeocentricSun:
    """Quadratic interpolation between three equally spaced SPA evaluations.

    The same three-point scheme SPA uses for sunrise, transit and sunset (Reda & Andreas 2004,
    appendix A.2). Over a 24 h span it reproduces the full algorithm within 1e-5 deg; `fraction`
    runs from 0 at `start` to 1 at `end`.
    """
    n = 2.0 * fraction - 1.0

    def quadratic(y_start: float, y_middle: float, y_end: float) -> float:
        a = y_middle - y_start
        b = y_end - y_middle
        return y_middle + n * (a + b + (b - a) * n) / 2.0

    ra_start = start.right_ascension_deg
    ra_middle = middle.right_ascension_deg
    ra_end = end.right_ascension_deg
    if ra_middle - ra_start < -180.0:
        ra_middle += 360.0
    if ra_end - ra_middle < -180.0:
        ra_end += 360.0
    return GeocentricSun(
        quadratic(ra_start, ra_middle, ra_end) % 360.0,
        quadratic(start.declination_deg, middle.declination_deg, end.declination_deg),
        quadratic(start.equation_of_equinoxes_deg, middle.equation_of_equinoxes_deg,
                  end.equation_of_equinoxes_deg),
        quadratic(start.earth_radius_au, middle.earth_radius_au, end.earth_radius_au))


def mean_sidereal_time_deg(time_s: float) -> float:
    """Mean sidereal time at Greenwich (Reda & Andreas 2004): the Earth's rotation angle."""
    jd = julian_day(time_s)
    jc = (jd - 2451545.0) / 36525.0
    return (280.46061837 + 360.98564736629 * (jd - 2451545.0) + 0.000387933 * jc**2
            - jc**3 / 38710000.0) % 360.0


def refraction_correction_deg(elevation_deg: float, pressure_hpa: float,
                              temperature_c: float) -> float:
    """Atmospheric refraction lifting the apparent sun (Bennett's formula as in SPA, 2004).

    Zero when the sun's upper limb is below the refracted horizon, as in SPA.
    """
    if elevation_deg < -(SUN_RADIUS_DEG + SPA_ATMOSPHERIC_REFRACTION_DEG):
        return 0.0
    return ((pressure_hpa / 1010.0) * (283.0 / (273.0 + temperature_c)) * 1.02
            / (60.0 * math.tan(math.radians(elevation_deg + 10.3 / (elevation_deg + 5.11)))))


def topocentric_solar_position(sun: GeocentricSun, time_s: float, latitude_deg: float,
                               longitude_deg: float, altitude_m: float, pressure_hpa: float,
                               temperature_c: float) -> SolarPosition:
    """Observer's zenith and azimuth from the geocentric sun (topocentric part of SPA, 2004).

    Includes the hour angle from the apparent sidereal time, parallax for the observer's position
    on the ellipsoid and the refraction of `refraction_correction_deg`.
    """
    hour_angle_rad = math.radians(mean_sidereal_time_deg(time_s) + sun.equation_of_equinoxes_deg
                                  + longitude_deg - sun.right_ascension_deg)
    declination_rad = math.radians(sun.declination_deg)
    latitude_rad = math.radians(latitude_deg)
    sin_parallax = math.sin(math.radians(8.794 / (3600.0 * sun.earth_radius_au)))
    u = math.atan(EARTH_FLATTENING_FACTOR * math.tan(latitude_rad))
    x = math.cos(u) + altitude_m / EARTH_EQUATORIAL_RADIUS_M * math.cos(latitude_rad)
    y = (EARTH_FLATTENING_FACTOR * math.sin(u)
         + altitude_m / EARTH_EQUATORIAL_RADIUS_M * math.sin(latitude_rad))
    denominator = math.cos(declination_rad) - x * sin_parallax * math.cos(hour_angle_rad)
    parallax_ra_rad = math.atan2(-x * sin_parallax * math.sin(hour_angle_rad), denominator)
    topocentric_declination_rad = math.atan2(
        (math.sin(declination_rad) - y * sin_parallax) * math.cos(parallax_ra_rad), denominator)
    topocentric_hour_angle_rad = hour_angle_rad - parallax_ra_rad
    sin_latitude = math.sin(latitude_rad)
    cos_latitude = math.cos(latitude_rad)
    elevation_deg = math.degrees(math.asin(
        sin_latitude * math.sin(topocentric_declination_rad)
        + cos_latitude * math.cos(topocentric_declination_rad)
        * math.cos(topocentric_hour_angle_rad)))
    apparent_elevation_deg = elevation_deg + refraction_correction_deg(
        elevation_deg, pressure_hpa, temperature_c)
    azimuth_deg = (math.degrees(math.atan2(
        math.sin(topocentric_hour_angle_rad),
        math.cos(topocentric_hour_angle_rad) * sin_latitude
        - math.tan(topocentric_declination_rad) * cos_latitude)) + 180.0) % 360.0
    return SolarPosition(90.0 - apparent_elevation_deg, 90.0 - elevation_deg, azimuth_deg)


def solar_position(time_s: float, latitude_deg: float, longitude_deg: float,
                   altitude_m: float = 0.0, pressure_hpa: float = STANDARD_PRESSURE_PA / 100.0,
                   temperature_c: float = 12.0,
                   delta_t_s: float = DEFAULT_DELTA_T_S) -> SolarPosition:
    """Full NREL SPA sun position at one instant (Reda & Andreas 2004), as pvlib's spa_python."""
    return topocentric_solar_position(spa_geocentric_sun(time_s, delta_t_s), time_s,
                                      latitude_deg, longitude_deg, altitude_m, pressure_hpa,
                                      temperature_c)


def pressure_from_altitude_pa(altitude_m: float) -> float:
    """Mean air pressure at an altitude, standard atmosphere (as pvlib.atmosphere.alt2pres)."""
    return 100.0 * math.pow((44331.514 - altitude_m) / 11880.516, 1.0 / 0.1902632)


def extraterrestrial_irradiance_w_m2(day_of_year: int,
                                     solar_constant_w_m2: float = SOLAR_CONSTANT_W_M2) -> float:
    """Normal irradiance at the top of the atmosphere for the Earth-sun distance of the day.

    J. W. Spencer, "Fourier series representation of the position of the sun", Search 2 (1971) 172;
    the default of pvlib.irradiance.get_extra_radiation.
    """
    day_angle_rad = 2.0 * math.pi * (day_of_year - 1) / 365.0
    return solar_constant_w_m2 * (1.00011 + 0.034221 * math.cos(day_angle_rad)
                                  + 0.00128 * math.sin(day_angle_rad)
                                  + 0.000719 * math.cos(2.0 * day_angle_rad)
                                  + 7.7e-05 * math.sin(2.0 * day_angle_rad))


def relative_air_mass(apparent_zenith_deg: float) -> float:
    """Relative optical air mass, F. Kasten and A. T. Young, Applied Optics 28 (1989) 4735-4738.

    Valid up to the horizon (about 38 at 90 deg); infinite for a sun below it, so that every
    transmittance computed from it becomes zero.
    """
    if apparent_zenith_deg > 90.0:
        return math.inf
    return 1.0 / (math.cos(math.radians(apparent_zenith_deg))
                  + 0.50572 * math.pow(6.07995 + (90.0 - apparent_zenith_deg), -1.6364))


def absolute_air_mass(relative_air_mass_value: float, pressure_pa: float) -> float:
    """Pressure-corrected air mass: a high site looks through less atmosphere."""
    return relative_air_mass_value * pressure_pa / STANDARD_PRESSURE_PA


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def linke_turbidity_for_day(day_of_year: float, is_leap_year: bool,
                            monthly_linke_turbidity: tuple[float, ...]) -> float:
    """Linke turbidity of a day from 12 monthly means, linear between mid-month days.

    Monthly climatologies (J. Remund et al., "Worldwide Linke turbidity information", ISES Solar
    World Congress 2003) hold one value per month; as pvlib.clearsky.lookup_linke_turbidity we take
    each as the value in the middle of its month so the clear sky does not jump at month ends.
    """
    month_days = list(_MONTH_DAYS)
    if is_leap_year:
        month_days[1] += 1
    anchors = [-_MONTH_DAYS[11] / 2.0]
    end_of_month = 0
    for days in month_days:
        anchors.append(end_of_month + days / 2.0)
        end_of_month += days
    anchors.append(end_of_month + _MONTH_DAYS[0] / 2.0)
    values = (monthly_linke_turbidity[11], *monthly_linke_turbidity, monthly_linke_turbidity[0])
    for index in range(1, len(anchors)):
        if day_of_year <= anchors[index]:
            weight = (day_of_year - anchors[index - 1]) / (anchors[index] - anchors[index - 1])
            return values[index - 1] + weight * (values[index] - values[index - 1])
    return values[-1]


def ineichen_perez_clear_sky(apparent_zenith_deg: float, air_mass_absolute: float,
                             linke_turbidity: float, altitude_m: float,
                             dni_extra_w_m2: float) -> SkyIrradiance:
    """Clear-sky GHI, DNI and DHI from the Linke turbidity.

    P. Ineichen and R. Perez, "A new airmass independent formulation for the Linke turbidity
    coefficient", Solar Energy 73 (2002) 151-157, without the Perez enhancement factor, as
    pvlib.clearsky.ineichen(perez_enhancement=False).
    """
    cos_zenith = math.cos(math.radians(apparent_zenith_deg))
    if cos_zenith <= 0.0 or math.isinf(air_mass_absolute):
        return SkyIrradiance(0.0, 0.0, 0.0)
    fh1 = math.exp(-altitude_m / 8000.0)
    fh2 = math.exp(-altitude_m / 1250.0)
    cg1 = 5.09e-05 * altitude_m + 0.868
    cg2 = 3.92e-05 * altitude_m + 0.0387
    ghi_w_m2 = cg1 * dni_extra_w_m2 * cos_zenith * max(
        math.exp(-cg2 * air_mass_absolute * (fh1 + fh2 * (linke_turbidity - 1.0))), 0.0)
    b = 0.664 + 0.163 / fh1
    beam_w_m2 = dni_extra_w_m2 * max(
        b * math.exp(-0.09 * air_mass_absolute * (linke_turbidity - 1.0)), 0.0)
    beam_limit_w_m2 = ghi_w_m2 * min(max(
        (1.0 - (0.1 - 0.2 * math.exp(-linke_turbidity)) / (0.1 + 0.882 / fh1)) / cos_zenith,
        0.0), 1e20)
    dni_w_m2 = min(beam_w_m2, beam_limit_w_m2)
    return SkyIrradiance(ghi_w_m2, dni_w_m2, ghi_w_m2 - dni_w_m2 * cos_zenith)


def erbs_decomposition(ghi_w_m2: float, zenith_deg: float, dni_extra_w_m2: float,
                       min_cos_zenith: float = 0.065,
                       max_zenith_deg: float = 87.0) -> BeamDiffuseSplit:
    """Split a measured or simulated GHI into DNI and DHI from its clearness index.

    D. G. Erbs, S. A. Klein and J. A. Duffie, "Estimation of the diffuse radiation fraction for
    hourly, daily and monthly-average global radiation", Solar Energy 28 (1982) 293-302; as
    pvlib.irradiance.erbs (all light is diffuse for a sun lower than `max_zenith_deg`).
    """
    if ghi_w_m2 <= 0.0:
        return BeamDiffuseSplit(0.0, 0.0)
    if zenith_deg > max_zenith_deg:
        return BeamDiffuseSplit(0.0, ghi_w_m2)
    cos_zenith = math.cos(math.radians(zenith_deg))
    clearness_index = min(max(ghi_w_m2 / (dni_extra_w_m2 * max(cos_zenith, min_cos_zenith)), 0.0),
                          1.0)
    if clearness_index <= 0.22:
        diffuse_fraction = 1.0 - 0.09 * clearness_index
    elif clearness_index <= 0.8:
        diffuse_fraction = (0.9511 - 0.1604 * clearness_index + 4.388 * clearness_index**2
                            - 16.638 * clearness_index**3 + 12.336 * clearness_index**4)
    else:
        diffuse_fraction = 0.165
    dhi_w_m2 = diffuse_fraction * ghi_w_m2
    return BeamDiffuseSplit((ghi_w_m2 - dhi_w_m2) / cos_zenith, dhi_w_m2)


def cloudy_sky_irradiance(clear: SkyIrradiance, clear_sky_index: float, zenith_deg: float,
                          dni_extra_w_m2: float) -> SkyIrradiance:
    """GHI, DNI and DHI under clouds from the clear sky and the clear-sky index GHI / GHI_clear.

    The beam is the clear-sky beam reduced by the ratio of the Erbs et al. (1982) beam of the
    cloudy GHI to the Erbs beam of the clear-sky GHI. Clouds thus shift light from beam to
    diffuse as Erbs observed, while an index of 1 gives exactly the Ineichen-Perez split, so a
    cloudless minute of a variable sky equals sky = clear (Erbs alone puts more of a clear sky into
    diffuse than Ineichen-Perez). The beam never exceeds the clear-sky beam: cloud enhancement
    (index > 1) is diffuse light reflected by cloud sides. For a sun lower than Erbs' 87 deg
    limit the beam scales with the index.
    """
    ghi_w_m2 = clear.ghi_w_m2 * clear_sky_index
    clear_beam_w_m2 = erbs_decomposition(clear.ghi_w_m2, zenith_deg, dni_extra_w_m2).dni_w_m2
    if clear_beam_w_m2 > 0.0:
        cloudy_beam_w_m2 = erbs_decomposition(ghi_w_m2, zenith_deg, dni_extra_w_m2).dni_w_m2
        beam_ratio = min(cloudy_beam_w_m2 / clear_beam_w_m2, 1.0)
    else:
        beam_ratio = min(clear_sky_index, 1.0)
    dni_w_m2 = clear.dni_w_m2 * beam_ratio
    return SkyIrradiance(ghi_w_m2, dni_w_m2,
                         ghi_w_m2 - dni_w_m2 * math.cos(math.radians(zenith_deg)))


def cos_angle_of_incidence(surface_tilt_deg: float, surface_azimuth_deg: float,
                           zenith_deg: float, azimuth_deg: float) -> float:
    """Cosine of the angle between the sun and the module normal (pvlib.irradiance.aoi_projection).

    Negative when the sun is behind the module.
    """
    tilt_rad = math.radians(surface_tilt_deg)
    zenith_rad = math.radians(zenith_deg)
    projection = (math.cos(tilt_rad) * math.cos(zenith_rad)
                  + math.sin(tilt_rad) * math.sin(zenith_rad)
                  * math.cos(math.radians(azimuth_deg - surface_azimuth_deg)))
    return min(max(projection, -1.0), 1.0)


def poa_beam_w_m2(dni_w_m2: float, cos_aoi: float) -> float:
    """Direct irradiance on the module plane; zero for a sun behind the module."""
    return max(dni_w_m2 * cos_aoi, 0.0)


def ground_reflected_w_m2(ghi_w_m2: float, surface_tilt_deg: float, albedo: float) -> float:
    """Light reflected by an isotropic ground onto the tilted plane (pvlib get_ground_diffuse)."""
    return ghi_w_m2 * albedo * (1.0 - math.cos(math.radians(surface_tilt_deg))) * 0.5


_PEREZ_EPSILON_BINS = (1.065, 1.23, 1.5, 1.95, 2.8, 4.5, 6.2)
_PEREZ_KAPPA = 1.041
_COS_85_DEG = math.cos(math.radians(85.0))

_PEREZ_1990_COEFFICIENTS = (
    (-0.0080, 0.5880, -0.0620, -0.0600, 0.0720, -0.0220),
    (0.1300, 0.6830, -0.1510, -0.0190, 0.0660, -0.0290),
    (0.3300, 0.4870, -0.2210, 0.0550, -0.0640, -0.0260),
    (0.5680, 0.1870, -0.2950, 0.1090, -0.1520, -0.0140),
    (0.8730, -0.3920, -0.3620, 0.2260, -0.4620, 0.0010),
    (1.1320, -1.2370, -0.4120, 0.2880, -0.8230, 0.0560),
    (1.0600, -1.6000, -0.3590, 0.2640, -1.1270, 0.1310),
    (0.6780, -0.3270, -0.2500, 0.1560, -1.3770, 0.2510),
)
"""Perez et al. (1990) all-sites composite F11 F12 F13 F21 F22 F23, one row per clearness bin."""


def perez_sky_diffuse_w_m2(surface_tilt_deg: float, cos_aoi: float, dhi_w_m2: float,
                           dni_w_m2: float, dni_extra_w_m2: float, apparent_zenith_deg: float,
                           air_mass_relative: float) -> float:
    """Sky diffuse irradiance on a tilted plane with circumsolar and horizon brightening.

    R. Perez, P. Ineichen, R. Seals, J. Michalsky and R. Stewart, "Modeling daylight availability
    and irradiance components from direct and global irradiance", Solar Energy 44 (1990) 271-289,
    all-sites composite 1990 coefficients; as pvlib.irradiance.perez. An anisotropic sky matters:
    an isotropic one loses 2-8 % of the daily energy of the Vienna reference days.
    """
    if dhi_w_m2 <= 0.0 or math.isinf(air_mass_relative):
        return 0.0
    zenith_rad = math.radians(apparent_zenith_deg)
    sky_brightness = dhi_w_m2 * air_mass_relative / dni_extra_w_m2
    zenith_term = _PEREZ_KAPPA * zenith_rad**3
    sky_clearness = ((dhi_w_m2 + dni_w_m2) / dhi_w_m2 + zenith_term) / (1.0 + zenith_term)
    clearness_bin = 0
    for upper in _PEREZ_EPSILON_BINS:
        if sky_clearness < upper:
            break
        clearness_bin += 1
    f11, f12, f13, f21, f22, f23 = _PEREZ_1990_COEFFICIENTS[clearness_bin]
    circumsolar = max(f11 + f12 * sky_brightness + f13 * zenith_rad, 0.0)
    horizon = f21 + f22 * sky_brightness + f23 * zenith_rad
    tilt_rad = math.radians(surface_tilt_deg)
    projection_ratio = max(cos_aoi, 0.0) / max(math.cos(zenith_rad), _COS_85_DEG)
    return max(dhi_w_m2 * (0.5 * (1.0 - circumsolar) * (1.0 + math.cos(tilt_rad))
                           + circumsolar * projection_ratio + horizon * math.sin(tilt_rad)), 0.0)


def iam_physical(cos_aoi: float, refractive_index: float = 1.526,
                 extinction_per_m: float = 4.0, glass_thickness_m: float = 0.002) -> float:
    """Share of the beam transmitted through the cover glass relative to normal incidence.

    Fresnel reflection and Bouguer absorption in an uncoated glass cover: W. De Soto, S. A. Klein
    and W. A. Beckman, "Improvement and validation of a model for photovoltaic array performance",
    Solar Energy 80 (2006) 78-88; as pvlib.iam.physical.
    """
    cos_incidence = max(cos_aoi, 0.0)
    if cos_incidence == 0.0:
        return 0.0
    sin_refraction = math.sqrt(1.0 - cos_incidence**2) / refractive_index
    cos_refraction = math.sqrt(1.0 - sin_refraction**2)
    reflectance_s = ((cos_incidence - refractive_index * cos_refraction)
                     / (cos_incidence + refractive_index * cos_refraction)) ** 2
    reflectance_p = ((cos_refraction - refractive_index * cos_incidence)
                     / (cos_refraction + refractive_index * cos_incidence)) ** 2
    reflectance_normal = ((1.0 - refractive_index) / (1.0 + refractive_index)) ** 2
    absorption = math.exp(-extinction_per_m * glass_thickness_m / cos_refraction)
    transmittance = (2.0 - reflectance_s - reflectance_p) / 2.0 * absorption
    transmittance_normal = (1.0 - reflectance_normal) * math.exp(
        -extinction_per_m * glass_thickness_m)
    return transmittance / transmittance_normal


def sapm_cell_temperature_c(poa_global_w_m2: float, air_temperature_c: float,
                            wind_speed_m_s: float, a: float = SAPM_CLOSE_MOUNT_GLASS_GLASS[0],
                            b: float = SAPM_CLOSE_MOUNT_GLASS_GLASS[1],
                            delta_t_c: float = SAPM_CLOSE_MOUNT_GLASS_GLASS[2],
                            irradiance_reference_w_m2: float = 1000.0) -> float:
    """Cell temperature from plane-of-array irradiance, air temperature and wind.

    D. L. King, W. E. Boyson and J. A. Kratochvil, "Photovoltaic array performance model", Sandia
    report SAND2004-3535 (2004), eq. 11-12; as pvlib.temperature.sapm_cell.
    """
    module_temperature_c = (poa_global_w_m2 * math.exp(a + b * wind_speed_m_s)
                            + air_temperature_c)
    return module_temperature_c + poa_global_w_m2 / irradiance_reference_w_m2 * delta_t_c


def pvwatts_dc_power_w(effective_irradiance_w_m2: float, cell_temperature_c: float,
                       dc_rating_w: float, temperature_coefficient_per_c: float,
                       losses_pct: float = 0.0, reference_temperature_c: float = 25.0) -> float:
    """Array DC power, linear in irradiance with a temperature derate, after system losses.

    A. P. Dobos, "PVWatts version 5 manual", NREL/TP-6A20-62641 (2014), and its lumped
    DC system losses (soiling, shading, wiring, mismatch...; 14.08 % by default), as
    pvlib.pvsystem.pvwatts_dc times (1 - pvwatts_losses / 100).
    """
    return (effective_irradiance_w_m2 / 1000.0 * dc_rating_w
            * (1.0 + temperature_coefficient_per_c * (cell_temperature_c - reference_temperature_c))
            * (1.0 - losses_pct / 100.0))


def pvwatts_ac_power_w(dc_power_w: float, dc_input_rating_w: float,
                       eta_nominal: float = PVWATTS_ETA_INV_NOMINAL,
                       eta_reference: float = PVWATTS_ETA_INV_REFERENCE) -> float:
    """Inverter AC output with part-load efficiency and clipping at eta_nominal * dc_input_rating_w.

    A. P. Dobos, "PVWatts version 5 manual" (2014); as pvlib.inverter.pvwatts. Below
    about 0.6 % load the curve gives no output, which is the inverter's start-up threshold.
    """
    if dc_power_w <= 0.0:
        return 0.0
    load_fraction = dc_power_w / dc_input_rating_w
    efficiency = eta_nominal / eta_reference * (-0.0162 * load_fraction
                                                - 0.0059 / load_fraction + 0.9858)
    return max(min(efficiency * dc_power_w, eta_nominal * dc_input_rating_w), 0.0)


def pvwatts_dc_for_ac_w(ac_power_w: float, dc_input_rating_w: float,
                        eta_nominal: float = PVWATTS_ETA_INV_NOMINAL,
                        eta_reference: float = PVWATTS_ETA_INV_REFERENCE) -> float:
    """The DC input at which :func:`pvwatts_ac_power_w` gives ``ac_power_w``: its inverse.

    The PVWatts curve times the DC power is a quadratic in it (Dobos 2014, as above), solved for
    its smaller root; at or above the clipping power the inverter draws its DC rating.
    """
    if ac_power_w <= 0.0:
        return 0.0
    if ac_power_w >= eta_nominal * dc_input_rating_w:
        return dc_input_rating_w
    k = eta_nominal / eta_reference
    a = 0.0162 * k / dc_input_rating_w
    b = -0.9858 * k
    c = ac_power_w + 0.0059 * k * dc_input_rating_w
    return (-b - math.sqrt(max(0.0, b * b - 4.0 * a * c))) / (2.0 * a)


def inverter_temperature_c(air_temperature_c: float, ac_power_w: float, ac_rating_w: float,
                           rise_at_rated_k: float = INVERTER_RISE_AT_RATED_K) -> float:
    """Steady-state heat-sink temperature of an inverter in the open air: the air plus a rise in
    proportion to the inverter's losses.

    A lumped thermal resistance from heat sink to air, T = T_air + R_th * P_loss (N. Mohan,
    T. M. Undeland, W. P. Robbins, "Power Electronics", 3rd ed., Wiley 2003, the chapter on heat
    sinks), with R_th fixed by ``rise_at_rated_k`` at rated output; the losses are the DC input
    minus the AC output of the PVWatts inverter curve (:func:`pvwatts_dc_for_ac_w`). A sleeping
    inverter (no output) is at the air's temperature.
    """
    if ac_rating_w <= 0.0 or ac_power_w <= 0.0:
        return air_temperature_c
    dc_input_rating_w = ac_rating_w / PVWATTS_ETA_INV_NOMINAL
    loss_w = pvwatts_dc_for_ac_w(ac_power_w, dc_input_rating_w) - ac_power_w
    rated_loss_w = dc_input_rating_w - ac_rating_w
    return air_temperature_c + rise_at_rated_k * max(0.0, loss_w) / rated_loss_w


def first_order_lag(previous: float, steady: float, elapsed_s: float, time_constant_s: float) -> float:
    """Where a first-order system that was at ``previous`` is after ``elapsed_s`` towards
    ``steady`` (exact for a constant input over the step): how a heat sink's temperature follows
    its losses. A step back in time (a restart) starts from ``steady``."""
    if elapsed_s <= 0.0:
        return steady
    return steady + (previous - steady) * math.exp(-elapsed_s / time_constant_s)


# NREL SPA periodic terms (Reda & Andreas 2004, appendix tables): Earth heliocentric
# longitude L0-L5, latitude B0-B1 and radius R0-R4 as (A, B, C) of A*cos(B + C*JME); nutation
# rows as (Y0..Y4, a, b, c, d).
_EARTH_L: _PeriodicSeries = (
    (
        (175347046.0, 0.0, 0.0), (3341656.0, 4.6692568, 6283.07585),
        (34894.0, 4.6261, 12566.1517), (3497.0, 2.7441, 5753.3849), (3418.0, 2.8289, 3.5231),
        (3136.0, 3.6277, 77713.7715), (2676.0, 4.4181, 7860.4194), (2343.0, 6.1352, 3930.2097),
        (1324.0, 0.7425, 11506.7698), (1273.0, 2.0371, 529.691), (1199.0, 1.1096, 1577.3435),
        (990.0, 5.233, 5884.927), (902.0, 2.045, 26.298), (857.0, 3.508, 398.149),
        (780.0, 1.179, 5223.694), (753.0, 2.533, 5507.553), (505.0, 4.583, 18849.228),
        (492.0, 4.205, 775.523), (357.0, 2.92, 0.067), (317.0, 5.849, 11790.629),
        (284.0, 1.899, 796.298), (271.0, 0.315, 10977.079), (243.0, 0.345, 5486.778),
        (206.0, 4.806, 2544.314), (205.0, 1.869, 5573.143), (202.0, 2.458, 6069.777),
        (156.0, 0.833, 213.299), (132.0, 3.411, 2942.463), (126.0, 1.083, 20.775),
        (115.0, 0.645, 0.98), (103.0, 0.636, 4694.003), (102.0, 0.976, 15720.839),
        (102.0, 4.267, 7.114), (99.0, 6.21, 2146.17), (98.0, 0.68, 155.42),
        (86.0, 5.98, 161000.69), (85.0, 1.3, 6275.96), (85.0, 3.67, 71430.7),
        (80.0, 1.81, 17260.15), (79.0, 3.04, 12036.46), (75.0, 1.76, 5088.63),
        (74.0, 3.5, 3154.69), (74.0, 4.68, 801.82), (70.0, 0.83, 9437.76), (62.0, 3.98, 8827.39),
        (61.0, 1.82, 7084.9), (57.0, 2.78, 6286.6), (56.0, 4.39, 14143.5), (56.0, 3.47, 6279.55),
        (52.0, 0.19, 12139.55), (52.0, 1.33, 1748.02), (51.0, 0.28, 5856.48),
        (49.0, 0.49, 1194.45), (41.0, 5.37, 8429.24), (41.0, 2.4, 19651.05),
        (39.0, 6.17, 10447.39), (37.0, 6.04, 10213.29), (37.0, 2.57, 1059.38),
        (36.0, 1.71, 2352.87), (36.0, 1.78, 6812.77), (33.0, 0.59, 17789.85),
        (30.0, 0.44, 83996.85), (30.0, 2.74, 1349.87), (25.0, 3.16, 4690.48),
    ),
    (
        (628331966747.0, 0.0, 0.0), (206059.0, 2.678235, 6283.07585),
        (4303.0, 2.6351, 12566.1517), (425.0, 1.59, 3.523), (119.0, 5.796, 26.298),
        (109.0, 2.966, 1577.344), (93.0, 2.59, 18849.23), (72.0, 1.14, 529.69),
        (68.0, 1.87, 398.15), (67.0, 4.41, 5507.55), (59.0, 2.89, 5223.69), (56.0, 2.17, 155.42),
        (45.0, 0.4, 796.3), (36.0, 0.47, 775.52), (29.0, 2.65, 7.11), (21.0, 5.34, 0.98),
        (19.0, 1.85, 5486.78), (19.0, 4.97, 213.3), (17.0, 2.99, 6275.96), (16.0, 0.03, 2544.31),
        (16.0, 1.43, 2146.17), (15.0, 1.21, 10977.08), (12.0, 2.83, 1748.02),
        (12.0, 3.26, 5088.63), (12.0, 5.27, 1194.45), (12.0, 2.08, 4694.0), (11.0, 0.77, 553.57),
        (10.0, 1.3, 6286.6), (10.0, 4.24, 1349.87), (9.0, 2.7, 242.73), (9.0, 5.64, 951.72),
        (8.0, 5.3, 2352.87), (6.0, 2.65, 9437.76), (6.0, 4.67, 4690.48),
    ),
    (
        (52919.0, 0.0, 0.0), (8720.0, 1.0721, 6283.0758), (309.0, 0.867, 12566.152),
        (27.0, 0.05, 3.52), (16.0, 5.19, 26.3), (16.0, 3.68, 155.42), (10.0, 0.76, 18849.23),
        (9.0, 2.06, 77713.77), (7.0, 0.83, 775.52), (5.0, 4.66, 1577.34), (4.0, 1.03, 7.11),
        (4.0, 3.44, 5573.14), (3.0, 5.14, 796.3), (3.0, 6.05, 5507.55), (3.0, 1.19, 242.73),
        (3.0, 6.12, 529.69), (3.0, 0.31, 398.15), (3.0, 2.28, 553.57), (2.0, 4.38, 5223.69),
        (2.0, 3.75, 0.98),
    ),
    (
        (289.0, 5.844, 6283.076), (35.0, 0.0, 0.0), (17.0, 5.49, 12566.15), (3.0, 5.2, 155.42),
        (1.0, 4.72, 3.52), (1.0, 5.3, 18849.23), (1.0, 5.97, 242.73),
    ),
    (
        (114.0, 3.142, 0.0), (8.0, 4.13, 6283.08), (1.0, 3.84, 12566.15),
    ),
    (
        (1.0, 3.14, 0.0),
    ),
)

_EARTH_B: _PeriodicSeries = (
    (
        (280.0, 3.199, 84334.662), (102.0, 5.422, 5507.553), (80.0, 3.88, 5223.69),
        (44.0, 3.7, 2352.87), (32.0, 4.0, 1577.34),
    ),
    (
        (9.0, 3.9, 5507.55), (6.0, 1.73, 5223.69),
    ),
)

_EARTH_R: _PeriodicSeries = (
    (
        (100013989.0, 0.0, 0.0), (1670700.0, 3.0984635, 6283.07585),
        (13956.0, 3.05525, 12566.1517), (3084.0, 5.1985, 77713.7715), (1628.0, 1.1739, 5753.3849),
        (1576.0, 2.8469, 7860.4194), (925.0, 5.453, 11506.77), (542.0, 4.564, 3930.21),
        (472.0, 3.661, 5884.927), (346.0, 0.964, 5507.553), (329.0, 5.9, 5223.694),
        (307.0, 0.299, 5573.143), (243.0, 4.273, 11790.629), (212.0, 5.847, 1577.344),
        (186.0, 5.022, 10977.079), (175.0, 3.012, 18849.228), (110.0, 5.055, 5486.778),
        (98.0, 0.89, 6069.78), (86.0, 5.69, 15720.84), (86.0, 1.27, 161000.69),
        (65.0, 0.27, 17260.15), (63.0, 0.92, 529.69), (57.0, 2.01, 83996.85),
        (56.0, 5.24, 71430.7), (49.0, 3.25, 2544.31), (47.0, 2.58, 775.52), (45.0, 5.54, 9437.76),
        (43.0, 6.01, 6275.96), (39.0, 5.36, 4694.0), (38.0, 2.39, 8827.39),
        (37.0, 0.83, 19651.05), (37.0, 4.9, 12139.55), (36.0, 1.67, 12036.46),
        (35.0, 1.84, 2942.46), (33.0, 0.24, 7084.9), (32.0, 0.18, 5088.63), (32.0, 1.78, 398.15),
        (28.0, 1.21, 6286.6), (28.0, 1.9, 6279.55), (26.0, 4.59, 10447.39),
    ),
    (
        (103019.0, 1.10749, 6283.07585), (1721.0, 1.0644, 12566.1517), (702.0, 3.142, 0.0),
        (32.0, 1.02, 18849.23), (31.0, 2.84, 5507.55), (25.0, 1.32, 5223.69),
        (18.0, 1.42, 1577.34), (10.0, 5.91, 10977.08), (9.0, 1.42, 6275.96), (9.0, 0.27, 5486.78),
    ),
    (
        (4359.0, 5.7846, 6283.0758), (124.0, 5.579, 12566.152), (12.0, 3.14, 0.0),
        (9.0, 3.63, 77713.77), (6.0, 1.87, 5573.14), (3.0, 5.47, 18849.23),
    ),
    (
        (145.0, 4.273, 6283.076), (7.0, 3.92, 12566.15),
    ),
    (
        (4.0, 2.56, 6283.08),
    ),
)

_NUTATION: tuple[tuple[int, int, int, int, int, float, float, float, float], ...] = (
    (0, 0, 0, 0, 1, -171996.0, -174.2, 92025.0, 8.9),
    (-2, 0, 0, 2, 2, -13187.0, -1.6, 5736.0, -3.1),
    (0, 0, 0, 2, 2, -2274.0, -0.2, 977.0, -0.5),
    (0, 0, 0, 0, 2, 2062.0, 0.2, -895.0, 0.5),
    (0, 1, 0, 0, 0, 1426.0, -3.4, 54.0, -0.1),
    (0, 0, 1, 0, 0, 712.0, 0.1, -7.0, 0.0),
    (-2, 1, 0, 2, 2, -517.0, 1.2, 224.0, -0.6),
    (0, 0, 0, 2, 1, -386.0, -0.4, 200.0, 0.0),
    (0, 0, 1, 2, 2, -301.0, 0.0, 129.0, -0.1),
    (-2, -1, 0, 2, 2, 217.0, -0.5, -95.0, 0.3),
    (-2, 0, 1, 0, 0, -158.0, 0.0, 0.0, 0.0),
    (-2, 0, 0, 2, 1, 129.0, 0.1, -70.0, 0.0),
    (0, 0, -1, 2, 2, 123.0, 0.0, -53.0, 0.0),
    (2, 0, 0, 0, 0, 63.0, 0.0, 0.0, 0.0),
    (0, 0, 1, 0, 1, 63.0, 0.1, -33.0, 0.0),
    (2, 0, -1, 2, 2, -59.0, 0.0, 26.0, 0.0),
    (0, 0, -1, 0, 1, -58.0, -0.1, 32.0, 0.0),
    (0, 0, 1, 2, 1, -51.0, 0.0, 27.0, 0.0),
    (-2, 0, 2, 0, 0, 48.0, 0.0, 0.0, 0.0),
    (0, 0, -2, 2, 1, 46.0, 0.0, -24.0, 0.0),
    (2, 0, 0, 2, 2, -38.0, 0.0, 16.0, 0.0),
    (0, 0, 2, 2, 2, -31.0, 0.0, 13.0, 0.0),
    (0, 0, 2, 0, 0, 29.0, 0.0, 0.0, 0.0),
    (-2, 0, 1, 2, 2, 29.0, 0.0, -12.0, 0.0),
    (0, 0, 0, 2, 0, 26.0, 0.0, 0.0, 0.0),
    (-2, 0, 0, 2, 0, -22.0, 0.0, 0.0, 0.0),
    (0, 0, -1, 2, 1, 21.0, 0.0, -10.0, 0.0),
    (0, 2, 0, 0, 0, 17.0, -0.1, 0.0, 0.0),
    (2, 0, -1, 0, 1, 16.0, 0.0, -8.0, 0.0),
    (-2, 2, 0, 2, 2, -16.0, 0.1, 7.0, 0.0),
    (0, 1, 0, 0, 1, -15.0, 0.0, 9.0, 0.0),
    (-2, 0, 1, 0, 1, -13.0, 0.0, 7.0, 0.0),
    (0, -1, 0, 0, 1, -12.0, 0.0, 6.0, 0.0),
    (0, 0, 2, -2, 0, 11.0, 0.0, 0.0, 0.0),
    (2, 0, -1, 2, 1, -10.0, 0.0, 5.0, 0.0),
    (2, 0, 1, 2, 2, -8.0, 0.0, 3.0, 0.0),
    (0, 1, 0, 2, 2, 7.0, 0.0, -3.0, 0.0),
    (-2, 1, 1, 0, 0, -7.0, 0.0, 0.0, 0.0),
    (0, -1, 0, 2, 2, -7.0, 0.0, 3.0, 0.0),
    (2, 0, 0, 2, 1, -7.0, 0.0, 3.0, 0.0),
    (2, 0, 1, 0, 0, 6.0, 0.0, 0.0, 0.0),
    (-2, 0, 2, 2, 2, 6.0, 0.0, -3.0, 0.0),
    (-2, 0, 1, 2, 1, 6.0, 0.0, -3.0, 0.0),
    (2, 0, -2, 0, 1, -6.0, 0.0, 3.0, 0.0),
    (2, 0, 0, 0, 1, -6.0, 0.0, 3.0, 0.0),
    (0, -1, 1, 0, 0, 5.0, 0.0, 0.0, 0.0),
    (-2, -1, 0, 2, 1, -5.0, 0.0, 3.0, 0.0),
    (-2, 0, 0, 0, 1, -5.0, 0.0, 3.0, 0.0),
    (0, 0, 2, 2, 1, -5.0, 0.0, 3.0, 0.0),
    (-2, 0, 2, 0, 1, 4.0, 0.0, 0.0, 0.0),
    (-2, 1, 0, 2, 1, 4.0, 0.0, 0.0, 0.0),
    (0, 0, 1, -2, 0, 4.0, 0.0, 0.0, 0.0),
    (-1, 0, 1, 0, 0, -4.0, 0.0, 0.0, 0.0),
    (-2, 1, 0, 0, 0, -4.0, 0.0, 0.0, 0.0),
    (1, 0, 0, 0, 0, -4.0, 0.0, 0.0, 0.0),
    (0, 0, 1, 2, 0, 3.0, 0.0, 0.0, 0.0),
    (0, 0, -2, 2, 2, -3.0, 0.0, 0.0, 0.0),
    (-1, -1, 1, 0, 0, -3.0, 0.0, 0.0, 0.0),
    (0, 1, 1, 0, 0, -3.0, 0.0, 0.0, 0.0),
    (0, -1, 1, 2, 2, -3.0, 0.0, 0.0, 0.0),
    (2, -1, -1, 2, 2, -3.0, 0.0, 0.0, 0.0),
    (0, 0, 3, 2, 2, -3.0, 0.0, 0.0, 0.0),
    (2, -1, 0, 2, 2, -3.0, 0.0, 0.0, 0.0),
)
