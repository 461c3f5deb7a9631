/**
 * The OVF 1.0 envelope (DMTF DSP0243 1.0) of a one-disk, one-VM OVA: what VirtualBox, VMware
 * Workstation/ESXi and virt-v2v import. The hardware family is `vmx-NN` rather than VirtualBox's own
 * `virtualbox-2.2`, which VMware refuses; VirtualBox accepts `vmx-NN`.
 * CIM items (RASD) list their fields in alphabetical order, as the CIM schema's sequence wants.
 */
export interface OvfDisk {
  /** Member name of the disk inside the OVA. */
  href: string;
  /** Bytes of the disk file (the streamOptimized VMDK). */
  fileSize: number;
  /** Virtual disk size in bytes. */
  capacity: number;
  /** Bytes of the virtual disk that hold data. */
  populatedSize?: number;
}

export interface OvfVm {
  name: string;
  arch: 'x86' | 'x86_64';
  /** Guest description, e.g. "Tiny Core Linux 6.4.1". */
  osDescription: string;
  cpus: number;
  memoryMiB: number;
  nic: 'e1000' | 'pcnet32' | 'vmxnet3' | 'none';
  controller: 'ide' | 'sata';
  firmware: 'bios';
  /** A serial port (the recipe boots with console=ttyS0). */
  serial: boolean;
  product: { name: string; version?: string; vendor?: string; description?: string };
}

/** VMware hardware version: 10 is the first with SATA and is imported by every supported ESXi/Workstation. */
export const VMX_VERSION = 'vmx-10';
/** CIM_OperatingSystem.OSType: 36 "LINUX", 101 "Linux 64-Bit". */
const CIM_OS = { x86: 36, x86_64: 101 } as const;
const VMW_OS = { x86: 'otherLinuxGuest', x86_64: 'otherLinux64Guest' } as const;
const NIC_SUBTYPE = { e1000: 'E1000', pcnet32: 'PCNet32', vmxnet3: 'VmxNet3' } as const;
export const OVF_NETWORK = 'NAT';

const NS = {
  xmlns: 'http://schemas.dmtf.org/ovf/envelope/1',
  'xmlns:cim': 'http://schemas.dmtf.org/wbem/wscim/1/common',
  'xmlns:ovf': 'http://schemas.dmtf.org/ovf/envelope/1',
  'xmlns:rasd': 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData',
  'xmlns:vmw': 'http://www.vmware.com/schema/ovf',
  'xmlns:vssd': 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData',
  'xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance',
};

export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

type Rasd = Record<string, string | number | boolean>;

function item(fields: Rasd, attrs = ''): string[] {
  const keys = Object.keys(fields).sort();
  return [`      <Item${attrs}>`, ...keys.map((k) => `        <rasd:${k}>${xmlEscape(String(fields[k]))}</rasd:${k}>`), '      </Item>'];
}

export function ovfEnvelope(vm: OvfVm, disk: OvfDisk): string {
  const a = (s: string): string => xmlEscape(s);
  const controllerId = 3;
  const hw: string[] = [
    ...item({ AllocationUnits: 'hertz * 10^6', Description: 'Number of virtual CPUs', ElementName: `${vm.cpus} virtual CPU(s)`, InstanceID: 1, ResourceType: 3, VirtualQuantity: vm.cpus }),
    ...item({ AllocationUnits: 'byte * 2^20', Description: 'Memory size', ElementName: `${vm.memoryMiB} MB of memory`, InstanceID: 2, ResourceType: 4, VirtualQuantity: vm.memoryMiB }),
    ...(vm.controller === 'ide'
      ? item({ Address: 0, Description: 'IDE controller', ElementName: 'ideController0', InstanceID: controllerId, ResourceSubType: 'PIIX4', ResourceType: 5 })
      : item({ Address: 0, Description: 'SATA controller', ElementName: 'sataController0', InstanceID: controllerId, ResourceSubType: 'AHCI', ResourceType: 20 })),
    ...item({ AddressOnParent: 0, Description: 'Hard disk', ElementName: 'disk0', HostResource: 'ovf:/disk/vmdisk1', InstanceID: 4, Parent: controllerId, ResourceType: 17 }),
  ];
  if (vm.nic !== 'none') {
    hw.push(...item({ AutomaticAllocation: true, Connection: OVF_NETWORK, Description: `${NIC_SUBTYPE[vm.nic]} ethernet adapter on "${OVF_NETWORK}"`, ElementName: 'ethernet0', InstanceID: 5, ResourceSubType: NIC_SUBTYPE[vm.nic], ResourceType: 10 }));
  }
  if (vm.serial) {
    hw.push(...item({ AutomaticAllocation: true, Description: 'Serial port (the console: console=ttyS0)', ElementName: 'serial0', InstanceID: 6, ResourceType: 21 }, ' ovf:required="false"'));
  }
  hw.push(`      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="${vm.firmware}"/>`);

  const product = vm.product;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<Envelope ${Object.entries(NS).map(([k, v]) => `${k}="${v}"`).join(' ')}>`,
    '  <References>',
    `    <File ovf:href="${a(disk.href)}" ovf:id="file1" ovf:size="${disk.fileSize}"/>`,
    '  </References>',
    '  <DiskSection>',
    '    <Info>Virtual disk information</Info>',
    `    <Disk ovf:capacity="${disk.capacity}" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"${disk.populatedSize !== undefined ? ` ovf:populatedSize="${disk.populatedSize}"` : ''}/>`,
    '  </DiskSection>',
    '  <NetworkSection>',
    '    <Info>The list of logical networks</Info>',
    `    <Network ovf:name="${OVF_NETWORK}">`,
    '      <Description>The NAT network</Description>',
    '    </Network>',
    '  </NetworkSection>',
    `  <VirtualSystem ovf:id="${a(vm.name)}">`,
    '    <Info>A virtual machine</Info>',
    `    <Name>${a(vm.name)}</Name>`,
    `    <OperatingSystemSection ovf:id="${CIM_OS[vm.arch]}" vmw:osType="${VMW_OS[vm.arch]}">`,
    '      <Info>The kind of installed guest operating system</Info>',
    `      <Description>${a(vm.osDescription)}</Description>`,
    '    </OperatingSystemSection>',
    '    <VirtualHardwareSection>',
    '      <Info>Virtual hardware requirements</Info>',
    '      <System>',
    '        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>',
    '        <vssd:InstanceID>0</vssd:InstanceID>',
    `        <vssd:VirtualSystemIdentifier>${a(vm.name)}</vssd:VirtualSystemIdentifier>`,
    `        <vssd:VirtualSystemType>${VMX_VERSION}</vssd:VirtualSystemType>`,
    '      </System>',
    ...hw,
    '    </VirtualHardwareSection>',
    '    <ProductSection>',
    '      <Info>Meta-information about the installed software</Info>',
    `      <Product>${a(product.name)}</Product>`,
    ...(product.vendor ? [`      <Vendor>${a(product.vendor)}</Vendor>`] : []),
    ...(product.version ? [`      <Version>${a(product.version)}</Version>`, `      <FullVersion>${a(product.version)}</FullVersion>`] : []),
    '    </ProductSection>',
    // VirtualBox's `export --description` lands here: OVF 1.0's ProductSection has no description field.
    ...(product.description ? [
      '    <AnnotationSection>',
      '      <Info>A human-readable annotation</Info>',
      `      <Annotation>${a(product.description)}</Annotation>`,
      '    </AnnotationSection>',
    ] : []),
    '  </VirtualSystem>',
    '</Envelope>',
    '',
  ];
  return lines.join('\n');
}
