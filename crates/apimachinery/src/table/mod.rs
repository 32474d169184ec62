//! Table printers: the columns kubectl shows for every served resource.
