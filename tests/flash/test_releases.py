"""--version: resolving the official download, the cache, and what to do offline. No network is used."""

import urllib.error

import pytest

from pocket_agent.boards import catalog
from pocket_agent.errors import PocketError
from pocket_agent.tools.flash import images, releases

from .conftest import esp_image, pico_image

ESP = catalog.load("esp32s3-devkitc")
PICO = catalog.load("pico2w")

# A download page as the site lists builds: several variants, releases and previews.
PAGE = """<html><body>
<a href="/resources/firmware/ESP32_GENERIC_S3-20250911-v1.29.0.bin">.bin</a>
<a href="/resources/firmware/ESP32_GENERIC_S3-SPIRAM_OCT-20250911-v1.29.0.bin">.bin</a>
<a href="/resources/firmware/ESP32_GENERIC_S3-SPIRAM_OCT-20250911-v1.29.0.app-bin">.app-bin</a>
<a href="/resources/firmware/ESP32_GENERIC_S3-SPIRAM_OCT-20250415-v1.28.0.bin">.bin</a>
<a href="/resources/firmware/RPI_PICO2_W-20250911-v1.29.0.uf2">.uf2</a>
<a href="/resources/firmware/RPI_PICO2-20250911-v1.29.0.uf2">.uf2</a>
</body></html>"""


class Site:
    """Serves PAGE and images for the URLs resolve() asks for, and records them."""

    def __init__(self, files):
        self.files = files
        self.asked = []

    def __call__(self, url):
        self.asked.append(url)
        if url.endswith("/download/ESP32_GENERIC_S3/") or url.endswith("/download/RPI_PICO2_W/"):
            return PAGE.encode()
        if url in self.files:
            return self.files[url]
        raise urllib.error.HTTPError(url, 404, "Not Found", None, None)


def test_the_url_of_a_release_is_found_for_the_board_and_variant():
    url = releases.find_url(ESP, "1.29.0", PAGE)
    assert url == "https://micropython.org/resources/firmware/ESP32_GENERIC_S3-SPIRAM_OCT-20250911-v1.29.0.bin"
    assert releases.find_url(ESP, "1.28.0", PAGE).endswith("SPIRAM_OCT-20250415-v1.28.0.bin")
    assert releases.find_url(PICO, "1.29.0", PAGE).endswith("/RPI_PICO2_W-20250911-v1.29.0.uf2")
    assert releases.find_url(PICO, "1.27.0", PAGE) is None


def test_resolve_downloads_once_then_uses_the_cache():
    url = "https://micropython.org/resources/firmware/RPI_PICO2_W-20250911-v1.29.0.uf2"
    site = Site({url: pico_image()})
    path = releases.resolve(PICO, "v1.29", fetch=site, offline=False, out=lambda *_: None)
    assert path.name == "RPI_PICO2_W-20250911-v1.29.0.uf2" and path.read_bytes() == pico_image()
    assert site.asked == ["https://micropython.org/download/RPI_PICO2_W/", url]
    again = releases.resolve(PICO, "1.29.0", fetch=site, offline=True, out=lambda *_: None)
    assert again == path and len(site.asked) == 2


def test_a_download_that_is_no_image_is_not_cached():
    url = "https://micropython.org/resources/firmware/ESP32_GENERIC_S3-SPIRAM_OCT-20250911-v1.29.0.bin"
    site = Site({url: b"<html>rate limited</html>"})
    with pytest.raises(PocketError) as info:
        releases.resolve(ESP, "1.29.0", fetch=site, offline=False, out=lambda *_: None,
                         validate=lambda data, name: images.check(ESP, data, name))
    assert "is neither an ESP32 image nor a UF2 file" in info.value.message
    assert releases.cached(ESP, "1.29.0") is None


def test_offline_says_exactly_what_to_fetch_and_where():
    with pytest.raises(PocketError) as info:
        releases.resolve(ESP, "1.29.0", out=lambda *_: None)  # POCKET_OFFLINE=1 in these tests
    hint = info.value.hint
    assert "fetch ESP32_GENERIC_S3-SPIRAM_OCT-<date>-v1.29.0.bin from https://micropython.org/download/ESP32_GENERIC_S3/" in hint
    assert str(releases.cache_dir()) in hint and "--firmware FILE" in hint


def test_unreachable_site_gives_the_same_help():
    def no_network(url):
        raise urllib.error.URLError("Temporary failure in name resolution")

    with pytest.raises(PocketError) as info:
        releases.resolve(PICO, "1.29.0", fetch=no_network, offline=False, out=lambda *_: None)
    assert "cannot reach https://micropython.org/download/RPI_PICO2_W/" in info.value.message
    assert "RPI_PICO2_W-<date>-v1.29.0.uf2" in info.value.hint


def test_a_file_put_in_the_cache_by_hand_is_used_offline():
    d = releases.cache_dir()
    d.mkdir(parents=True)
    (d / "ESP32_GENERIC_S3-SPIRAM_OCT-20250911-v1.29.0.bin").write_bytes(esp_image())
    (d / "ESP32_GENERIC_S3-20250911-v1.29.0.bin").write_bytes(b"not this variant")
    path = releases.resolve(ESP, "1.29.0", out=lambda *_: None)
    assert path.name == "ESP32_GENERIC_S3-SPIRAM_OCT-20250911-v1.29.0.bin"


def test_an_unknown_release_and_a_bad_version():
    with pytest.raises(PocketError) as info:
        releases.resolve(PICO, "1.27.0", fetch=Site({}), offline=False, out=lambda *_: None)
    assert "lists no MicroPython 1.27.0 for RPI_PICO2_W" in info.value.message
    with pytest.raises(PocketError) as info:
        releases.resolve(PICO, "latest", fetch=Site({}), offline=False)
    assert "'latest' is not a MicroPython version" in info.value.message
