"""Several Bitrix24 portals behind the one `Messenger`: every Bitrix24 id the rest of the service
stores carries its portal (`ids`), and `PortalMessengers` sends each message through the
portal its ids name (`messengers`). May import bot and outbound only."""
